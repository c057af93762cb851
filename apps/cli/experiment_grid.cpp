// run_grid: N jobs at once on std::threads, a progress bar, the resume file; and the Trainer run
// that the experiments' jobs are made of.
//
// Threads: the workers only run jobs and hand results back under one mutex; the calling thread
// does all the output (resume file, stdout lines, the progress bar), so the lines never interleave
// and a result is on disk before its line is printed.
#include "experiment_grid.hpp"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "experiment_grid_resume.hpp"
#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int terminal_columns() {
  winsize size{};
  if (ioctl(fileno(stderr), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 100;
}

// How far the jobs in flight are, written by the workers and read by the progress bar.
struct JobProgress {
  std::atomic<Index> done{0}, total{0};
};

// "[#######.............]  3/8 runs  1m02s elapsed  ETA 1m40s  running: heads=2 seed=1 40%, …"
class ProgressBar {
 public:
  ProgressBar(bool enabled, Index total, int jobs)
      : enabled_(enabled && isatty(fileno(stderr)) != 0), total_(total), jobs_(jobs) {}

  // `finished_seconds`: the wall times of the runs finished here; `running`: (id, fraction).
  void draw(Index done, const std::vector<double>& finished_seconds,
            const std::vector<std::pair<std::string, double>>& running) {
    if (!enabled_) return;
    const double elapsed = seconds_since(start_);
    double remaining = static_cast<double>(total_ - done);  // in runs
    for (const auto& [id, fraction] : running) remaining -= fraction;
    // Mean seconds per run: from the finished runs, else from the furthest run in flight.
    double per_run = std::numeric_limits<double>::quiet_NaN();
    if (!finished_seconds.empty()) {
      double sum = 0;
      for (const double s : finished_seconds) sum += s;
      per_run = sum / static_cast<double>(finished_seconds.size());
    } else {
      double furthest = 0;
      for (const auto& [id, fraction] : running) furthest = std::max(furthest, fraction);
      if (furthest > 0.02) per_run = elapsed / furthest;
    }
    const std::string eta = std::isnan(per_run)
                                ? "ETA —"
                                : "ETA " + format_duration(per_run * std::max(0.0, remaining) /
                                                           static_cast<double>(jobs_));
    constexpr int kBar = 20;
    const double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1;
    const int filled = static_cast<int>(std::lround(fraction * kBar));
    std::string text = fmt::format("[{}{}] {}/{} runs  {} elapsed  {}", std::string(static_cast<std::size_t>(filled), '#'),
                                   std::string(static_cast<std::size_t>(kBar - filled), '.'), done, total_,
                                   format_duration(elapsed), eta);
    if (!running.empty()) {
      text += "  running:";
      for (std::size_t i = 0; i < running.size(); ++i)
        text += fmt::format("{} {} {:.0f}%", i == 0 ? "" : ",", running[i].first,
                            100 * running[i].second);
    }
    const auto columns = static_cast<std::size_t>(std::max(20, terminal_columns() - 1));
    if (text.size() > columns) text = text.substr(0, columns - 1) + "…";
    fmt::print(stderr, "\r\033[K{}", text);
    std::fflush(stderr);
    shown_ = true;
  }

  void clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool enabled_;
  Index total_;
  int jobs_;
  Clock::time_point start_ = Clock::now();
  bool shown_ = false;
};

}  // namespace

double GridRunResult::metric(const std::string& key) const {
  for (const auto& [k, value] : metrics)
    if (k == key) return value;
  return std::numeric_limits<double>::quiet_NaN();
}

std::string default_resume_file(const std::string& json_path) {
  if (json_path.empty()) return "";
  const std::string suffix = ".json";
  if (json_path.size() > suffix.size() &&
      json_path.compare(json_path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return json_path.substr(0, json_path.size() - suffix.size()) + ".runs.jsonl";
  return json_path + ".runs.jsonl";
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(std::lround(std::max(0.0, seconds)));
  if (s >= 3600) return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

std::vector<GridRunResult> run_grid(const std::vector<GridJob>& jobs, const GridOptions& options,
                                    const std::function<std::string(const GridRunResult&)>& line) {
  if (options.jobs < 1) throw_invalid("--jobs", "a number of runs at once >= 1", std::to_string(options.jobs));
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < jobs.size(); ++i)
    if (!index_of.emplace(jobs[i].id, i).second)
      throw InternalError("run_grid: the run id '" + jobs[i].id + "' is used twice");

  ResumeFile resume(options.resume_file, options.settings);
  std::vector<std::optional<GridRunResult>> results(jobs.size());
  Index resumed = 0;
  for (const GridRunResult& r : resume.runs()) {
    const auto it = index_of.find(r.id);
    if (it == index_of.end() || results[it->second]) continue;  // not in this grid, or repeated
    results[it->second] = r;
    ++resumed;
  }
  if (resumed > 0) {
    fmt::print("resumed {} of {} runs from {}\n", resumed, jobs.size(), resume.path());
    for (const auto& r : results)
      if (r) fmt::print("{}\n", line(*r));
    std::fflush(stdout);
  }

  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < jobs.size(); ++i)
    if (!results[i]) pending.push_back(i);
  if (pending.empty()) {
    std::vector<GridRunResult> all;
    for (auto& r : results) all.push_back(std::move(*r));
    return all;
  }

  // Shared with the workers, under `mutex`.
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next = 0;                      // into `pending`
  std::deque<std::pair<std::size_t, GridRunResult>> finished;  // handed to the main thread
  std::vector<std::size_t> in_flight;        // job indices, in start order
  std::exception_ptr failure;
  int workers_running = 0;
  const std::unique_ptr<JobProgress[]> progress(new JobProgress[jobs.size()]);

  auto worker = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    while (!failure && next < pending.size()) {
      const std::size_t job = pending[next++];
      in_flight.push_back(job);
      lock.unlock();
      std::optional<GridRunResult> result;
      std::exception_ptr error;
      try {
        JobProgress& p = progress[job];
        result = jobs[job].run([&p](Index done, Index total) {
          p.total.store(total, std::memory_order_relaxed);
          p.done.store(done, std::memory_order_relaxed);
        });
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      in_flight.erase(std::find(in_flight.begin(), in_flight.end(), job));
      if (error) {
        if (!failure) failure = error;
      } else {
        finished.emplace_back(job, std::move(*result));
      }
      changed.notify_all();
    }
    --workers_running;
    changed.notify_all();
  };

  const int worker_count = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(options.jobs), pending.size()));
  ProgressBar bar(options.progress, static_cast<Index>(jobs.size()), worker_count);
  std::vector<double> finished_seconds;
  Index done = resumed;
  std::exception_ptr output_failure;
  std::vector<std::thread> threads;
  workers_running = worker_count;
  for (int t = 0; t < worker_count; ++t) threads.emplace_back(worker);

  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    changed.wait_for(lock, std::chrono::milliseconds(500),
                     [&] { return !finished.empty() || workers_running == 0; });
    std::deque<std::pair<std::size_t, GridRunResult>> batch;
    batch.swap(finished);
    std::vector<std::pair<std::string, double>> running;
    for (const std::size_t job : in_flight) {
      const Index total = progress[job].total.load(std::memory_order_relaxed);
      const double fraction =
          total > 0 ? static_cast<double>(progress[job].done.load(std::memory_order_relaxed)) /
                          static_cast<double>(total)
                    : 0.0;
      running.emplace_back(jobs[job].id, fraction);
    }
    const bool over = workers_running == 0;
    lock.unlock();
    for (auto& [job, result] : batch) {
      result.id = jobs[job].id;
      result.group = jobs[job].group;
      result.finished = static_cast<std::int64_t>(std::time(nullptr));
      try {
        if (!output_failure) resume.append(result);
      } catch (...) {
        output_failure = std::current_exception();
        const std::lock_guard<std::mutex> stop(mutex);
        if (!failure) failure = output_failure;  // start no more jobs
      }
      finished_seconds.push_back(result.seconds);
      ++done;
      bar.clear();
      fmt::print("{}\n", line(result));
      std::fflush(stdout);
      results[job] = std::move(result);
    }
    bar.draw(done, finished_seconds, running);
    if (over && batch.empty()) break;
    lock.lock();
  }
  bar.clear();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  std::vector<GridRunResult> all;
  for (auto& r : results) all.push_back(std::move(*r));
  return all;
}

TrainedRun train_grid_run(train::TrainingConfig config, const lang::AttachmentGrammar& grammar,
                          const Context& ctx, Index curve_points, const GridProgress& progress) {
  if (curve_points < 0) throw_invalid("curve points", ">= 0", std::to_string(curve_points));
  // Evaluating changes nothing in the training (batches and dropout are seeded per step), so
  // the final numbers are those of the same run without a curve.
  config.eval_every = curve_points > 0 ? std::max<Index>(1, config.steps / curve_points) : 0;
  const auto start = Clock::now();
  train::Trainer trainer(config, grammar, ctx);
  TrainedRun out;
  GridRunResult& r = out.result;
  r.heads = trainer.config().model.num_heads;
  r.head_dim = trainer.config().model.d_model / r.heads;
  r.seed = static_cast<Index>(config.seed);
  r.parameters = parameter_count(trainer.config().model);
  trainer.run([&](const train::StepReport& step) {
    if (step.evaluation) {
      out.evaluation = *step.evaluation;
      if (curve_points > 0) r.curve.push_back({.step = step.step, .loss = step.evaluation->loss});
    }
    if (progress) progress(step.step, step.total_steps);
  });
  r.seconds = seconds_since(start);
  return out;
}

}  // namespace mha::cli
