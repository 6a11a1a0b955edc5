# Locate ONNX Runtime's C/C++ API headers (the onnxruntime wheel ships none).
# Order: -DCROSSRANK_ORT_INCLUDE_DIR / $CROSSRANK_ORT_INCLUDE_DIR, an ONNX Runtime
# release archive via $ONNXRUNTIME_ROOT, system locations, then a download of
# Debian's libonnxruntime-dev into the build folder (nothing installed system-wide).
set(_ort_hints)
if(CROSSRANK_ORT_INCLUDE_DIR)
  list(APPEND _ort_hints ${CROSSRANK_ORT_INCLUDE_DIR})
endif()
if(DEFINED ENV{ONNXRUNTIME_ROOT})
  list(APPEND _ort_hints $ENV{ONNXRUNTIME_ROOT}/include $ENV{ONNXRUNTIME_ROOT}/include/onnxruntime)
endif()
set(_ort_fetched ${CMAKE_BINARY_DIR}/onnxruntime-headers/include/onnxruntime)
find_path(_ort_include onnxruntime_cxx_api.h
  HINTS ${_ort_hints} ${_ort_fetched}
  PATHS /usr/include/onnxruntime /usr/local/include/onnxruntime /usr/include /usr/local/include
  NO_CACHE)

if(NOT _ort_include AND CMAKE_HOST_UNIX)
  message(STATUS "ONNX Runtime headers not found; fetching Debian's libonnxruntime-dev into the build folder")
  execute_process(
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fetch_onnxruntime_headers.sh ${CMAKE_BINARY_DIR}/onnxruntime-headers
    RESULT_VARIABLE _ort_fetch_rc OUTPUT_QUIET ERROR_VARIABLE _ort_fetch_err)
  if(_ort_fetch_rc EQUAL 0 AND EXISTS ${_ort_fetched}/onnxruntime_cxx_api.h)
    set(_ort_include ${_ort_fetched})
  else()
    message(STATUS "Fetching the headers failed: ${_ort_fetch_err}")
  endif()
endif()

if(NOT _ort_include)
  message(FATAL_ERROR
    "crossrank needs ONNX Runtime's C/C++ API headers (onnxruntime_cxx_api.h), version 1.21 or newer.\n"
    "Either install them (Debian/Ubuntu: apt-get install libonnxruntime-dev), or unpack an ONNX Runtime\n"
    "release archive and set ONNXRUNTIME_ROOT=/path/to/onnxruntime-linux-x64-<version>, or set\n"
    "CROSSRANK_ORT_INCLUDE_DIR=/folder/holding/onnxruntime_cxx_api.h, then rerun pip install.")
endif()
message(STATUS "ONNX Runtime headers: ${_ort_include}")
set(CROSSRANK_ORT_INCLUDE_DIR ${_ort_include})
