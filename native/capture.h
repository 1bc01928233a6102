// The lab's packet capture (capture.cc, Linux only): packetOpen, packetRead, packetStats and
// packetClose on the addon's exports. Apart from the socket calls so that they stay small.
#pragma once

#include <node_api.h>

namespace net_linger {

void define_capture(napi_env env, napi_value exports);

}  // namespace net_linger
