// Umbrella header: everything a user of mha needs.
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/error.hpp"
#include "mha/core/shape.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/layers/scaled_dot_product_attention.hpp"
