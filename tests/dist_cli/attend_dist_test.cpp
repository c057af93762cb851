// `mpirun -np P mha attend --dist …` writes the file a single `mha attend` writes, for both
// algorithms, both layouts, causal or not, every input layout, with a key padding mask; and what
// a split sequence cannot do fails on every rank with one line each, leaving no file.
//
// The tolerance is 1e-5 absolute on outputs of order 1: the ranks compute the same sums as one
// process, in another order (ring: one partial softmax per key block, merged by log-sum-exp;
// ulysses: the same kernel over fewer heads, other tile boundaries), so the results differ by
// fp32 rounding, a few ulps, never bit for bit. 1e-5 is the fp32 floor numerics.md uses for the
// fast kernel against the reference.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <filesystem>
#include <string>

#include "mha/io/safetensors.hpp"
#include "mha/layers/mha_state_dict.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "run_mpi.hpp"
#include "testing/allclose.hpp"
#include "testing/random_tensor.hpp"

namespace mha::testing {
namespace {

namespace fs = std::filesystem;

enum class Input { sequence_first, batch_first, unbatched };

struct Case {
  const char* name;
  const char* algorithm;
  int ranks;
  const char* layout;
  bool causal;
  Input input;
  bool additive_padding;  // F32 key_padding_mask instead of BOOL
  Index source = 13;      // S: key/value length (L is 13); differs for cross-attention
};

// What gtest prints for a case (instead of its bytes), e.g. in ctest's test names.
[[maybe_unused]] void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

// E = 24 with 6 heads, so ulysses runs on 2 and 3 ranks; L = 13 rows split unevenly.
constexpr Index kEmbed = 24, kHeads = 6, kLength = 13, kBatch = 2;

// The files of one test: a layer's weights, its inputs, the single-process and the job's output.
class DistAttendFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir();
    weights_ = dir_ / "w.safetensors";
    inputs_ = dir_ / "x.safetensors";
    single_ = dir_ / "single.safetensors";
    out_ = dir_ / "dist.safetensors";
    const MultiHeadAttention layer = MultiHeadAttention::random(
        {.embed_dim = kEmbed, .num_heads = kHeads, .batch_first = false}, 31);
    SafetensorsWriter w;
    add_mha_state_dict(w, layer.weights());
    w.write(weights_);
  }

  std::string command(const fs::path& out, const std::string& extra) const {
    return "attend --weights " + weights_.string() + " --inputs " + inputs_.string() + " --out " +
           out.string() + " --heads " + std::to_string(kHeads) + " --threads 1 " + extra;
  }

  // Writes query (and, for cross-attention, key and value) and a mask padding keys 2 and S−1
  // of the first sequence and key 5 of the second (unbatched: keys 2 and S−1).
  void write_inputs(const Case& c) const {
    const bool batched = c.input != Input::unbatched;
    const auto shape = [&](Index rows) {
      if (!batched) return Shape{rows, kEmbed};
      return c.input == Input::batch_first ? Shape{kBatch, rows, kEmbed} : Shape{rows, kBatch, kEmbed};
    };
    SafetensorsWriter x;
    const Tensor<> query = random_tensor(shape(kLength), 1);
    x.add("query", query.view());
    const Tensor<> key = random_tensor(shape(c.source), 2), value = random_tensor(shape(c.source), 3);
    if (c.source != kLength) {
      x.add("key", key.view());
      x.add("value", value.view());
    }
    const Shape mask_shape = batched ? Shape{kBatch, c.source} : Shape{c.source};
    BoolTensor flags(mask_shape);
    Tensor<> added(mask_shape);
    const auto pad = [&](Index b, Index j) {
      const Index at = batched ? b * c.source + j : j;
      flags.data()[at] = 1;
      added.data()[at] = -1e9F;
    };
    pad(0, 2);
    pad(0, c.source - 1);
    if (batched) pad(1, 5);
    if (c.additive_padding)
      x.add("key_padding_mask", added.view());
    else
      x.add("key_padding_mask", flags.view());
    x.write(inputs_);
  }

  fs::path dir_, weights_, inputs_, single_, out_;
};

class DistAttend : public DistAttendFiles, public ::testing::WithParamInterface<Case> {};

TEST_P(DistAttend, EqualsTheSingleProcessFile) {
  const Case& c = GetParam();
  write_inputs(c);
  std::string flags = c.causal ? "--causal" : "";
  if (c.input == Input::batch_first) flags += " --batch-first";
  const CliResult single = run_mha(command(single_, flags));
  ASSERT_EQ(single.exit_code, 0) << single.err;

  const CliResult dist = run_mpi(
      c.ranks, command(out_, flags + " --dist " + c.algorithm + " --layout " + c.layout));
  ASSERT_EQ(dist.exit_code, 0) << dist.err;
  // Rank 0 alone reports (and writes).
  EXPECT_EQ(count_lines(dist.out), 1) << dist.out;
  EXPECT_NE(dist.out.find(std::string(c.algorithm) + " over " + std::to_string(c.ranks) + " ranks"),
            std::string::npos)
      << dist.out;
  const SafetensorsFile expected = SafetensorsFile::open(single_), actual = SafetensorsFile::open(out_);
  EXPECT_EQ(actual.names(), (std::vector<std::string>{"output"}));
  EXPECT_TRUE(all_close(actual.read_f32("output").view(), expected.read_f32("output").view(), 1e-5));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DistAttend,
    ::testing::Values(
        Case{"RingTwoZigzagCausal", "ring", 2, "zigzag", true, Input::sequence_first, false},
        Case{"RingThreeZigzagCausalBatchFirst", "ring", 3, "zigzag", true, Input::batch_first, true},
        Case{"RingThreeContiguous", "ring", 3, "contiguous", false, Input::sequence_first, false},
        Case{"RingTwoContiguousCausalUnbatched", "ring", 2, "contiguous", true, Input::unbatched, false},
        Case{"RingThreeCrossAttention", "ring", 3, "zigzag", false, Input::batch_first, false, 17},
        Case{"UlyssesTwoCausal", "ulysses", 2, "zigzag", true, Input::sequence_first, true},
        Case{"UlyssesThreeBatchFirst", "ulysses", 3, "contiguous", false, Input::batch_first, false},
        Case{"UlyssesThreeCausalUnbatched", "ulysses", 3, "zigzag", true, Input::unbatched, false}),
    [](const ::testing::TestParamInfo<Case>& param) { return std::string(param.param.name); });

// Without mpirun MPI starts as a singleton: one rank holds everything.
TEST_F(DistAttendFiles, WithoutMpirunOneRankGivesTheSingleProcessFile) {
  write_inputs({"", "ring", 1, "zigzag", true, Input::sequence_first, false});
  ASSERT_EQ(run_mha(command(single_, "--causal")).exit_code, 0);
  for (const char* algorithm : {"ring", "ulysses"}) {
    const CliResult r = run_mha(command(out_, std::string("--causal --dist ") + algorithm));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(all_close(SafetensorsFile::open(out_).read_f32("output").view(),
                          SafetensorsFile::open(single_).read_f32("output").view(), 1e-5))
        << algorithm;
  }
}

// Each rank fails with one line naming the flag or tensor, and no rank writes a file.
class DistAttendErrors : public DistAttendFiles {
 protected:
  void SetUp() override {
    DistAttendFiles::SetUp();
    write_inputs({"", "ring", 2, "zigzag", false, Input::sequence_first, false});
  }
  void expect_job_failure(int ranks, const std::string& extra, const std::string& what) const {
    EXPECT_TRUE(job_fails_naming(run_mpi(ranks, command(out_, extra)), ranks, what)) << extra;
    EXPECT_FALSE(fs::exists(out_)) << "a failed run left " << out_;
  }
};

TEST_F(DistAttendErrors, NeedWeights) { expect_job_failure(2, "--dist ring --need-weights", "--need-weights"); }

TEST_F(DistAttendErrors, AttnMask) {
  SafetensorsWriter x;
  const Tensor<> query = random_tensor({kLength, kBatch, kEmbed}, 1);
  const BoolTensor attn_mask({kLength, kLength});
  x.add("query", query.view());
  x.add("attn_mask", attn_mask.view());
  x.write(inputs_);
  expect_job_failure(2, "--dist ring", "attn_mask");
}

TEST_F(DistAttendErrors, AddZeroAttn) { expect_job_failure(2, "--dist ulysses --add-zero-attn", "--add-zero-attn"); }

// Without mpirun (one rank) the same checks apply, with exactly one line.
TEST_F(DistAttendErrors, BiasKv) {
  const MultiHeadAttention layer = MultiHeadAttention::random(
      {.embed_dim = kEmbed, .num_heads = kHeads, .add_bias_kv = true}, 32);
  SafetensorsWriter w;
  add_mha_state_dict(w, layer.weights());
  w.write(weights_);
  EXPECT_TRUE(fails_naming(run_mha(command(out_, "--dist ring")), "bias_k"));
  EXPECT_FALSE(fs::exists(out_));
}

TEST_F(DistAttendErrors, UlyssesRanksMustDivideTheHeads) {
  expect_job_failure(4, "--dist ulysses", "ulysses");
}

TEST_F(DistAttendErrors, UnknownAlgorithmAndLayout) {
  expect_job_failure(2, "--dist star", "--dist");
  expect_job_failure(2, "--dist ring --layout striped", "--layout");
}

TEST_F(DistAttendErrors, LayoutNeedsDist) {
  EXPECT_TRUE(fails_naming(run_mha(command(out_, "--layout zigzag")), "--layout"));
}

// A rank that cannot read a file ends the job on every rank, rather than leaving the others
// waiting for it: here every rank lacks the inputs.
TEST_F(DistAttendErrors, MissingInputsFile) {
  fs::remove(inputs_);
  expect_job_failure(3, "--dist ring", "--inputs");
}

// One rank alone fails (rank 1, by Open MPI's OMPI_COMM_WORLD_RANK, is given a file that does
// not exist). It names the flag; the others stop too, naming it, at once rather than after the
// exchange's timeout.
TEST_F(DistAttendErrors, OneRankFailingEndsEveryRank) {
  const std::string good = command(out_, "--dist ring"), absent = (dir_ / "absent").string();
  std::string bad = good;
  bad.replace(bad.find(inputs_.string()), inputs_.string().size(), absent);
  const std::string script = "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then exec " + mha_binary() +
                             " " + bad + "; else exec " + mha_binary() + " " + good + "; fi";
  const auto start = std::chrono::steady_clock::now();
  const CliResult r = run_mpi_program(3, "sh -c '" + script + "'");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0);
  const std::vector<std::string> lines = error_lines(r.err);
  EXPECT_FALSE(lines.empty()) << r.err;
  for (const std::string& line : lines)
    EXPECT_TRUE(line.find("--inputs: '" + absent) != std::string::npos ||
                line.find("rank 1 failed") != std::string::npos)
        << line;
  EXPECT_FALSE(fs::exists(out_));
}

}  // namespace
}  // namespace mha::testing
