// Runs the tutorial binary (examples/tutorial) as a user would, once per backend, and
// checks what it teaches: the order of events and the timings it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corio/corio.hpp"

#ifndef CORIO_TUTORIAL_PATH
#error "CORIO_TUTORIAL_PATH must name the tutorial binary (see tests/CMakeLists.txt)"
#endif

namespace {

struct Outcome {
  int exit_code = -1;  // -1: did not exit normally
  std::string output;
};

/// Runs `command` through the shell and collects its stdout.
Outcome run_command(const std::string& command) {
  Outcome out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    out.output.append(buffer, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

std::string tutorial(const std::string& args) {
  return std::string(CORIO_TUTORIAL_PATH) + args;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// The tutorial's output, searchable in order.
class Transcript {
 public:
  explicit Transcript(const std::string& text) : lines_(lines_of(text)) {}

  /// Index of the first line at or after `from` that contains `needle`, if any.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view needle,
                                                std::size_t from = 0) const {
    for (std::size_t i = from; i < lines_.size(); ++i)
      if (lines_[i].find(needle) != std::string::npos) return i;
    return std::nullopt;
  }
  /// Index of the first line that starts with "<step>. " (a step heading).
  [[nodiscard]] std::optional<std::size_t> heading(int step) const {
    std::string prefix = std::to_string(step) + ". ";
    for (std::size_t i = 0; i < lines_.size(); ++i)
      if (lines_[i].starts_with(prefix)) return i;
    return std::nullopt;
  }
  [[nodiscard]] const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

/// Expects every needle to appear, in this order, between lines `from` and `to`.
void expect_in_order(const Transcript& t, std::size_t from, std::size_t to,
                     const std::vector<std::string>& needles) {
  std::size_t at = from;
  for (const std::string& needle : needles) {
    std::optional<std::size_t> found = t.find(needle, at);
    ASSERT_TRUE(found && *found < to)
        << "'" << needle << "' missing or out of order after line " << at;
    at = *found + 1;
  }
}

/// The "<task> iteration <i>" lines between lines `from` and `to`.
std::vector<std::string> iteration_lines(const Transcript& t, std::size_t from, std::size_t to) {
  std::vector<std::string> out;
  for (std::size_t i = from; i < to && i < t.lines().size(); ++i)
    if (t.lines()[i].find(" iteration ") != std::string::npos) out.push_back(t.lines()[i]);
  return out;
}

struct Timing {
  double measured = 0;
  double expected = 0;
};

/// Every "elapsed <step>: <measured> s (expected <expected> s)" line, by step.
std::map<std::string, Timing> timings_of(const Transcript& t) {
  std::map<std::string, Timing> out;
  for (const std::string& line : t.lines()) {
    char step[64];
    Timing timing;
    if (std::sscanf(line.c_str(), "elapsed %63[^:]: %lf s (expected %lf s)", step, &timing.measured,
                    &timing.expected) == 3) {
      out[step] = timing;
    }
  }
  return out;
}

constexpr double kScale = 0.05;

class TutorialTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // Debug mode off whatever the caller's environment says: its reports would change
    // the transcript (DebugModeTest covers it).
    Outcome run = run_command("env -u CORIO_DEBUG " +
                              tutorial(" --scale 0.05 --backend " + GetParam() + " 2>&1"));
    exit_code_ = run.exit_code;
    output_ = run.output;
  }

  int exit_code_ = -1;
  std::string output_;
};

TEST_P(TutorialTest, ExitsCleanlyAndNamesTheBackendFirst) {
  EXPECT_EQ(exit_code_, 0) << output_;
  Transcript t(output_);
  ASSERT_FALSE(t.lines().empty());
  EXPECT_EQ(t.lines().front(), "corio tutorial — backend: " + GetParam());
  EXPECT_EQ(t.find("backend:", 1), std::nullopt) << "one loop, so one backend line";
}

TEST_P(TutorialTest, PrintsTheSevenStepsInOrder) {
  Transcript t(output_);
  std::optional<std::size_t> previous;
  for (int step = 1; step <= 7; ++step) {
    std::optional<std::size_t> at = t.heading(step);
    ASSERT_TRUE(at) << "no heading for step " << step << "\n" << output_;
    if (previous) {
      EXPECT_LT(*previous, *at) << "step " << step << "\n" << output_;
    }
    previous = at;
  }
}

TEST_P(TutorialTest, EachStepPrintsItsEventsInTheOrderTheyHappen) {
  Transcript t(output_);
  std::vector<std::size_t> h;
  for (int step = 1; step <= 7; ++step) {
    std::optional<std::size_t> at = t.heading(step);
    ASSERT_TRUE(at) << output_;
    h.push_back(*at);
  }
  h.push_back(t.lines().size());
  SCOPED_TRACE(output_);

  // 2. Sequential: each task runs to the end before the next starts.
  expect_in_order(
      t, h[1], h[2],
      {"A iteration 1", "A iteration 2", "A iteration 3", "B iteration 1", "B iteration 2",
       "B iteration 3", "C iteration 1", "C iteration 2", "C iteration 3", "elapsed sequential:"});
  // 3. gather: all three start before any of them takes a second turn. Which one
  // gather starts first is gather_test's business; only the overlap is taught here.
  std::vector<std::string> gathered = iteration_lines(t, h[2], h[3]);
  ASSERT_EQ(gathered.size(), 9U);
  std::vector<std::string> first_turn(gathered.begin(), gathered.begin() + 3);
  std::sort(first_turn.begin(), first_turn.end());
  EXPECT_EQ(first_turn,
            (std::vector<std::string>{"A iteration 1", "B iteration 1", "C iteration 1"}));
  for (const char* task : {"A", "B", "C"}) {
    expect_in_order(t, h[2], h[3],
                    {task + std::string(" iteration 1"), task + std::string(" iteration 2"),
                     task + std::string(" iteration 3")});
  }
  // 4. Blocking: the tasks no longer interleave, although gather() runs them: each one
  // does all its iterations in one go.
  std::vector<std::string> blocked = iteration_lines(t, h[3], h[4]);
  ASSERT_EQ(blocked.size(), 9U);
  for (std::size_t i = 0; i < blocked.size(); ++i) {
    const std::string& first = blocked[i - i % 3];
    EXPECT_EQ(blocked[i], first.substr(0, 1) + " iteration " + std::to_string(i % 3 + 1));
  }
  std::string runs = {blocked[0][0], blocked[3][0], blocked[6][0]};
  std::sort(runs.begin(), runs.end());
  EXPECT_EQ(runs, "ABC");
  // 5. create_task returns before the task starts.
  expect_in_order(t, h[4], h[5],
                  {"main: continuing immediately", "background: running", "background: finishing",
                   "elapsed create_task:"});
  // 6. The 2 s task finishes, the 5 s one is pending, then cancelled.
  expect_in_order(t, h[5], h[6],
                  {"finished: fast", "pending: slow", "slow cancelled: yes", "elapsed wait:"});
  // 7. wait_for gives up.
  expect_in_order(t, h[6], h[7], {"took too long", "elapsed wait_for:"});
  EXPECT_EQ(t.find("finished in time"), std::nullopt);
}

TEST_P(TutorialTest, MeasuredTimesMatchTheScaledExpectations) {
  std::map<std::string, Timing> timings = timings_of(Transcript(output_));
  SCOPED_TRACE(output_);
  // The lesson's numbers at human speed, then scaled like the tutorial scales them.
  const std::map<std::string, double> lesson = {
      {"sequential", 11.1}, {"gather", 4.5}, {"blocking", 11.1},
      {"create_task", 0.5}, {"wait", 2.0},   {"wait_for", 2.0},
  };
  for (const auto& [step, seconds] : lesson) {
    ASSERT_TRUE(timings.contains(step)) << step;
    const Timing& t = timings.at(step);
    EXPECT_NEAR(t.expected, seconds * kScale, 0.0015) << step;
    // Timers never fire early (0.9: printed rounding); the upper bound leaves room for
    // a loaded 2-core CI machine.
    EXPECT_GE(t.measured, 0.9 * t.expected) << step;
    EXPECT_LE(t.measured, t.expected + 0.5) << step;
  }
}

TEST_P(TutorialTest, GatherOverlapsTheWaitsAndBlockingUndoesIt) {
  std::map<std::string, Timing> timings = timings_of(Transcript(output_));
  ASSERT_TRUE(timings.contains("sequential") && timings.contains("gather") &&
              timings.contains("blocking"))
      << output_;
  // 11.1 s against 4.5 s: concurrency makes it ~2.5 times faster...
  EXPECT_GT(timings["sequential"].measured, 2 * timings["gather"].measured) << output_;
  // ...and one blocking call per task loses all of it.
  EXPECT_GT(timings["blocking"].measured, 2 * timings["gather"].measured) << output_;
}

TEST_P(TutorialTest, WithoutDebugModeThereAreNoDebugReports) {
  EXPECT_EQ(output_.find("corio: "), std::string::npos) << output_;
}

INSTANTIATE_TEST_SUITE_P(Backends, TutorialTest, ::testing::ValuesIn(corio::available_backends()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// CORIO_DEBUG=1 turns asyncio's debug mode on: step 4's blocking calls are caught as
// they happen. stdout is line-buffered and stderr unbuffered, so the merged transcript
// keeps the order in which the lines were written.
TEST(TutorialDebugModeTest, WarnsAboutEachBlockingTaskOfStepFourAsItHappens) {
  Outcome run = run_command("env CORIO_DEBUG=1 " + tutorial(" --scale 0.05 2>&1"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  Transcript t(run.output);
  EXPECT_EQ(t.lines().front().rfind("corio: debug mode: backend ", 0), 0U) << run.output;
  std::optional<std::size_t> step4 = t.heading(4);
  std::optional<std::size_t> step5 = t.heading(5);
  ASSERT_TRUE(step4 && step5) << run.output;
#ifdef CORIO_HAVE_SYMBOLIZER
  const std::string warning = "'blocking_io_task' ran ";
#else
  const std::string warning = "corio: slow step: task Task-";
#endif
  // Each blocking_io_task sleeps 3 x 75, 50 or 60 ms in one step: all three exceed the
  // default 100 ms threshold, and nothing else in the lesson blocks.
  std::size_t warnings = 0;
  std::optional<std::size_t> found = t.find(warning);
  while (found) {
    ++warnings;
    EXPECT_GT(*found, *step4) << run.output;
    EXPECT_LT(*found, *step5) << run.output;
    EXPECT_NE(t.lines()[*found].find("corio: slow step: task Task-"), std::string::npos);
    found = t.find(warning, *found + 1);
  }
  EXPECT_EQ(warnings, 3U) << run.output;
}

// stderr only (stdout goes to /dev/null), so the test proves where the message goes.
std::string stderr_only(const std::string& command) {
  return command + " 2>&1 1>/dev/null";
}

TEST(TutorialCommandLineTest, AnUnknownBackendInTheEnvironmentFailsWithTheValidNames) {
  Outcome run = run_command(stderr_only("env CORIO_BACKEND=bogus " + tutorial(" --scale 0.05")));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("unknown backend 'bogus'"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("valid: auto"), std::string::npos) << run.output;
}

TEST(TutorialCommandLineTest, AnUnknownBackendFlagFailsWithTheValidNames) {
  Outcome run = run_command(stderr_only(tutorial(" --scale 0.05 --backend bogus")));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("unknown backend 'bogus'"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("valid: auto"), std::string::npos) << run.output;
}

TEST(TutorialCommandLineTest, TheBackendFlagWinsOverTheEnvironment) {
  Outcome run = run_command("env CORIO_BACKEND=bogus " + tutorial(" --scale 0.01 --backend poll"));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::vector<std::string> lines = lines_of(run.output);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "corio tutorial — backend: poll");
}

TEST(TutorialCommandLineTest, AnUnknownFlagPrintsUsageToStderrAndExitsWithTwo) {
  Outcome run = run_command(stderr_only(tutorial(" --bogus")));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("usage: tutorial"), std::string::npos) << run.output;
}

TEST(TutorialCommandLineTest, HelpPrintsUsageToStdoutAndExitsWithZero) {
  Outcome run = run_command(tutorial(" --help 2>/dev/null"));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("usage: tutorial"), std::string::npos) << run.output;
}

}  // namespace
