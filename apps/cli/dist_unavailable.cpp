// Stands in for dist_attend.cpp and dist_bench.cpp in a build without MPI (MHA_HAVE_DIST off):
// --dist is still a flag of attend and bench, and says why it cannot run.
#include "dist_attend.hpp"
#include "dist_bench.hpp"
#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

[[noreturn]] void unavailable() {
  throw Error(
      "--dist: this mha was built without MPI (install libopenmpi-dev, e.g. scripts/setup.sh, "
      "and configure again)");
}

}  // namespace

struct DistAttend::State {};

DistAttend::DistAttend(const DistFlags&) { unavailable(); }
DistAttend::~DistAttend() = default;
int DistAttend::rank() const { return 0; }
int DistAttend::ranks() const { return 1; }
std::string_view DistAttend::algorithm() const { return {}; }
std::string_view DistAttend::layout() const { return {}; }
void DistAttend::all_or_none(const std::function<void()>& step, std::string_view) const { step(); }
Tensor<> DistAttend::forward(const MultiHeadAttention&, TensorView<const float>,
                             TensorView<const float>, TensorView<const float>, const MhaOptions&,
                             const Context&) const {
  unavailable();
}

void run_dist_bench(const DistBenchOptions&) { unavailable(); }

}  // namespace mha::cli
