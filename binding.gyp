{
  "targets": [
    {
      "target_name": "net_linger",
      "sources": ["native/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "conditions": [
        ["OS=='win'", {
          "sources": ["native/win32.cc", "native/win32_lookup.cc"],
          "libraries": ["-lws2_32"]
        }, {
          "sources": ["native/posix.cc"]
        }],
        ["OS=='linux'", {
          "sources": ["native/capture.cc"]
        }]
      ]
    }
  ]
}
