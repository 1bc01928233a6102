// An empty function through node-addon-api, to split its fixed cost from the work in each call.
#include <napi.h>

namespace {
Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("noop", Napi::Function::New(env, Noop, "noop"));
  return exports;
}
}  // namespace

NODE_API_MODULE(addon_api_noop, Init)
