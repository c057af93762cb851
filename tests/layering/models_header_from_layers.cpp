// Compiled with exactly what mha_layers hands to the code that links it: the headers of layers
// and of what layers links (core, io, kernels). models sits above layers, so its header is not
// on the include path and this file must not compile; the test layering.upward_include_fails
// builds it and expects the compiler's "No such file" for mha/models/bert.hpp.
#include "mha/layers/multi_head_attention.hpp"
#include "mha/models/bert.hpp"
