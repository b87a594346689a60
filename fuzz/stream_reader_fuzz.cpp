// libFuzzer target: StreamReader's reads (read, readexactly, readline, readuntil) on
// input fed in arbitrary chunks with an arbitrary limit, some reads cancelled midway.
// Each read's outcome is checked against a reference model of asyncio's rules, at the
// moment it returns: the bytes (or the IncompleteReadError's partial, or the
// LimitOverrunError's consumed()) are exactly what the model says for the input fed so
// far, so no byte is lost, duplicated or reordered. While a read waits, the feeder
// checks that the model agrees it must wait. A cancelled read consumes nothing.
//
// Input layout (FuzzedDataProvider): limit, the reads (kind, size argument, separator),
// the chunk sizes, then the bytes to feed.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corio/corio.hpp"

namespace {

using namespace std::chrono_literals;

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the input that broke the model
}

enum class Kind : std::uint8_t { read, read_all, readexactly, readline, readuntil, count };

struct Op {
  Kind kind;
  std::size_t n;          // read / readexactly
  std::string separator;  // readuntil
  bool cancel;            // run as a task and cancel it after one turn
};

// What the model says a read does on the bytes available now.
struct Verdict {
  enum Tag : std::uint8_t { wait, value, incomplete, overrun } tag = wait;
  std::size_t length = 0;    // value: bytes returned; incomplete: the partial's size
  std::size_t consumed = 0;  // overrun: LimitOverrunError::consumed()
  std::size_t dropped = 0;   // overrun: bytes readline() discards
};

struct Model {
  std::string input;
  std::size_t limit = 1;
  std::size_t fed = 0;  // bytes of `input` fed so far
  std::size_t pos = 0;  // bytes consumed by reads
  bool eof = false;

  [[nodiscard]] std::string_view available() const {
    return std::string_view(input).substr(pos, fed - pos);
  }

  [[nodiscard]] Verdict decide(const Op& op) const {
    const std::string_view avail = available();
    switch (op.kind) {
      case Kind::read:
        if (op.n == 0) return {Verdict::value, 0};
        if (!avail.empty()) return {Verdict::value, std::min(op.n, avail.size())};
        if (eof) return {Verdict::value, 0};
        return {};
      case Kind::read_all:
        if (eof) return {Verdict::value, avail.size()};
        return {};
      case Kind::readexactly:
        if (avail.size() >= op.n) return {Verdict::value, op.n};
        if (eof) return {Verdict::incomplete, avail.size()};
        return {};
      case Kind::readline:
      case Kind::readuntil:
      case Kind::count:
        break;
    }
    const bool line = op.kind == Kind::readline;
    const std::string_view sep = line ? std::string_view("\n") : std::string_view(op.separator);
    const std::size_t found = avail.find(sep);
    if (found != std::string_view::npos) {
      if (found > limit) return {Verdict::overrun, 0, found, line ? found + sep.size() : 0};
      return {Verdict::value, found + sep.size()};
    }
    if (avail.size() >= sep.size() && avail.size() + 1 - sep.size() > limit) {
      return {Verdict::overrun, 0, avail.size() + 1 - sep.size(), line ? avail.size() : 0};
    }
    if (eof) return {line ? Verdict::value : Verdict::incomplete, avail.size()};
    return {};
  }
};

struct Run {
  Model model;
  std::vector<Op> ops;
  std::vector<std::size_t> chunks;
  corio::StreamReader reader;
  const Op* waiting = nullptr;  // the read in progress, if any
};

// Performs one read and checks its outcome against the model at the moment it returns.
// CancelledError passes through (nothing is checked then but "nothing consumed").
corio::Coro<void> one_read(Run& run, const Op& op) {
  Model& m = run.model;
  run.waiting = &op;
  std::optional<std::string> got;
  std::optional<std::string> partial;
  std::optional<std::size_t> overrun;
  try {
    switch (op.kind) {
      case Kind::read:
        got = co_await run.reader.read(op.n);
        break;
      case Kind::read_all:
        got = co_await run.reader.read();
        break;
      case Kind::readexactly:
        got = co_await run.reader.readexactly(op.n);
        break;
      case Kind::readline:
        got = co_await run.reader.readline();
        break;
      case Kind::readuntil:
      case Kind::count:
        got = co_await run.reader.readuntil(op.separator);
        break;
    }
  } catch (const corio::IncompleteReadError& e) {
    partial = e.partial();
    check(e.expected() == (op.kind == Kind::readexactly ? std::optional(op.n) : std::nullopt));
  } catch (const corio::LimitOverrunError& e) {
    overrun = e.consumed();
  } catch (const corio::CancelledError&) {
    run.waiting = nullptr;
    throw;
  }
  run.waiting = nullptr;
  const Verdict v = m.decide(op);
  const std::string_view avail = m.available();
  if (got) {
    check(v.tag == Verdict::value && got->size() == v.length && avail.substr(0, v.length) == *got);
    m.pos += v.length;
  } else if (partial) {
    check(v.tag == Verdict::incomplete && *partial == avail);
    m.pos += avail.size();
  } else {
    check(overrun.has_value() && v.tag == Verdict::overrun && *overrun == v.consumed);
    m.pos += v.dropped;
  }
  check(run.reader.buffered() == m.fed - m.pos);
}

corio::Coro<void> reader_task(Run& run) {
  for (const Op& op : run.ops) {
    if (!op.cancel) {
      co_await one_read(run, op);
      continue;
    }
    const std::size_t pos_before = run.model.pos;
    corio::Task<void> t = corio::create_task(one_read(run, op));
    co_await corio::sleep(0ms);
    t.cancel();
    bool cancelled = false;
    try {
      co_await t;
    } catch (const corio::CancelledError&) {
      cancelled = true;
    }
    // A cancelled read is cancel-safe: everything fed stays buffered.
    if (cancelled) {
      check(run.model.pos == pos_before);
      check(run.reader.buffered() == run.model.fed - run.model.pos);
    }
  }
}

corio::Coro<void> feeder_task(Run& run) {
  Model& m = run.model;
  std::size_t i = 0;
  while (m.fed < m.input.size()) {
    // The reader ran after the last feed: if it still waits, the model must agree.
    if (run.waiting != nullptr) check(m.decide(*run.waiting).tag == Verdict::wait);
    const std::size_t chunk = run.chunks[i++ % run.chunks.size()];
    const std::size_t n = std::min(chunk, m.input.size() - m.fed);
    run.reader.feed_data(std::string_view(m.input).substr(m.fed, n));
    m.fed += n;
    co_await corio::sleep(0ms);
  }
  if (run.waiting != nullptr) check(m.decide(*run.waiting).tag == Verdict::wait);
  m.eof = true;
  run.reader.feed_eof();
}

corio::Coro<void> program(Run& run) {
  corio::Task<void> feeder = corio::create_task(feeder_task(run));
  co_await reader_task(run);
  co_await feeder;
  // Whatever the reads left is still there, in order.
  const std::string rest = co_await run.reader.read();
  check(rest == run.model.available());
  check(run.reader.at_eof());
}

corio::EventLoop& loop() {
  // One loop for the whole fuzzing session: opening a backend per input would cost more
  // than the reads. poll is the cheapest to open and no I/O happens anyway.
  static corio::EventLoop l(corio::RunOptions{.backend = "poll"});
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Run run;
  run.model.limit = in.ConsumeIntegralInRange<std::size_t>(1, 64);
  const int op_count = in.ConsumeIntegralInRange(0, 24);
  for (int i = 0; i < op_count; ++i) {
    const auto byte = in.ConsumeIntegral<std::uint8_t>();
    Op op{};
    op.kind = static_cast<Kind>((byte & 0x7f) % static_cast<int>(Kind::count));
    op.cancel = (byte & 0x80) != 0;
    op.n = in.ConsumeIntegralInRange<std::size_t>(0, 150);
    if (op.kind == Kind::readuntil) {
      op.separator = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(1, 3));
      if (op.separator.empty()) op.separator = "\n";
    }
    run.ops.push_back(std::move(op));
  }
  const int chunk_count = in.ConsumeIntegralInRange(1, 6);
  for (int i = 0; i < chunk_count; ++i)
    run.chunks.push_back(in.ConsumeIntegralInRange<std::size_t>(1, 80));
  run.model.input = in.ConsumeRemainingBytesAsString();
  run.reader = corio::make_stream_reader(run.model.limit);
  check(run.reader.limit() == run.model.limit);

  loop().run_until_complete(program(run));
  return 0;
}
