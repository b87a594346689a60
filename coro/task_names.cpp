// Task names (asyncio's Task.get_name / set_name, "Task-N") and coroutine names.
//
// Names live in one process-wide table keyed by the task's promise, not in the
// promise: only tasks that were named (by the user, by debug mode, or by asking)
// pay for one, and PromiseBase::named_ spares every other task a lookup when its
// frame goes. Process-wide, because a frame may outlive its loop (a Task handle kept
// after close()) and a Task does not know its loop; it also numbers tasks across
// loops as asyncio's global counter does. A mutex guards it: loops on other threads
// name their tasks too, and only named tasks ever take it.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "corio/coro/promise.hpp"
#include "coro/debug.hpp"

namespace corio::detail {
namespace {

struct Entry {
  std::string name;       // empty until given or asked for
  std::string coroutine;  // the coroutine function, if known
};

struct Tables {
  std::mutex mutex;
  std::unordered_map<const PromiseBase*, Entry> tasks;
  std::unordered_map<const void*, std::string> coroutines;  // resume function -> name
  std::uint64_t next_number = 1;
};

// Never destroyed: a frame may be destroyed during static destruction.
Tables& tables() {
  static Tables* t = new Tables;
  return *t;
}

std::string next_task_name(Tables& t) {
  return "Task-" + std::to_string(t.next_number++);
}

const void* resume_function(void* frame) noexcept {
  const void* fn = nullptr;
  if (frame != nullptr) std::memcpy(&fn, frame, sizeof fn);
  return fn;
}

std::string coroutine_name_locked(Tables& t, const void* resume) {
  if (resume == nullptr) return {};  // Clang clears it once the coroutine is done
  auto it = t.coroutines.find(resume);
  if (it == t.coroutines.end())
    it = t.coroutines.emplace(resume, function_name_of(symbolize(resume))).first;
  return it->second;
}

}  // namespace

std::string PromiseBase::name() {
  Tables& t = tables();
  std::lock_guard lock(t.mutex);
  Entry& e = t.tasks[this];
  if (e.name.empty()) e.name = next_task_name(t);
  named_ = true;
  return e.name;
}

void PromiseBase::set_name(std::string name) {
  Tables& t = tables();
  std::lock_guard lock(t.mutex);
  t.tasks[this].name = std::move(name);
  named_ = true;
}

void name_for_debug(PromiseBase& task) noexcept {
  try {
    Tables& t = tables();
    std::lock_guard lock(t.mutex);
    Entry& e = t.tasks[&task];
    if (e.name.empty()) e.name = next_task_name(t);
    if (e.coroutine.empty())
      e.coroutine = coroutine_name_locked(t, resume_function(task.link_.address()));
    task.named_ = true;
  } catch (...) {
    // Out of memory: the task stays unnamed, which only makes reports less specific.
  }
}

std::string describe_task(PromiseBase& task) noexcept {
  try {
    Tables& t = tables();
    std::lock_guard lock(t.mutex);
    Entry& e = t.tasks[&task];
    if (e.name.empty()) {
      // Created while debug mode was off: name it now.
      e.name = next_task_name(t);
      e.coroutine = coroutine_name_locked(t, resume_function(task.link_.address()));
    }
    task.named_ = true;
    return e.coroutine.empty() ? e.name : e.name + " '" + e.coroutine + "'";
  } catch (...) {
    return {};
  }
}

void forget_task_name(const PromiseBase& task) noexcept {
  Tables& t = tables();
  std::lock_guard lock(t.mutex);
  t.tasks.erase(&task);
}

std::string coroutine_name(void* frame) {
  Tables& t = tables();
  std::lock_guard lock(t.mutex);
  return coroutine_name_locked(t, resume_function(frame));
}

std::string function_name_of(std::string_view s) {
  // GCC names the resume function "f(args) [clone .actor]", Clang "f(args) [clone
  // .resume]" (libstdc++'s demangler) or "f(args) (.resume)" (libc++abi's).
  if (const auto at = s.find(" [clone "); at != std::string_view::npos) s = s.substr(0, at);
  if (s.ends_with(")")) {
    if (const auto at = s.rfind(" (."); at != std::string_view::npos) s = s.substr(0, at);
  }
  // Qualifiers after the parameter list (a lambda's operator() is const).
  for (bool again = true; again;) {
    again = false;
    for (std::string_view q : {" const", " volatile", " &&", " &", " noexcept"}) {
      if (s.ends_with(q)) {
        s.remove_suffix(q.size());
        again = true;
      }
    }
  }
  // The parameter list: from the last ')' back to its '('.
  if (s.ends_with(")")) {
    int depth = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
      if (s[i] == ')') ++depth;
      if (s[i] == '(' && --depth == 0) {
        s = s.substr(0, i);
        break;
      }
    }
  }
  // A template function's demangled name starts with its return type.
  int depth = 0;
  for (std::size_t i = s.size(); i-- > 0;) {
    const char c = s[i];
    if (c == ')' || c == '>' || c == '}' || c == ']') ++depth;
    if (c == '(' || c == '<' || c == '{' || c == '[') --depth;
    if (c == ' ' && depth == 0) {
      s = s.substr(i + 1);
      break;
    }
  }
  std::string out(s);
  constexpr std::string_view kAnonymous = "(anonymous namespace)::";
  for (auto at = out.find(kAnonymous); at != std::string::npos; at = out.find(kAnonymous))
    out.erase(at, kAnonymous.size());
  return out;
}

}  // namespace corio::detail
