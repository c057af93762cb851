// The allowed direction compiles: what links mha_layers sees layers' headers and, through them,
// kernels' (the counterpart of models_header_from_layers.cpp).
#include "mha/kernels/attention.hpp"
#include "mha/layers/multi_head_attention.hpp"

int mha_layering_probe() { return static_cast<int>(sizeof(mha::MhaConfig)); }
