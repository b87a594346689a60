// The io_uring backend's per-handle states and their table.
#include "backends/io_uring_handles.hpp"

#include <unistd.h>

#include <algorithm>
#include <new>
#include <utility>

namespace corio::uring {

int HandleState::pop_accepted() noexcept {
  const int fd = accepted[accepted_head++];
  if (accepted_head == accepted.size()) {
    accepted.clear();
    accepted_head = 0;
  }
  return fd;
}

void HandleState::close_accepted() noexcept {
  for (std::size_t i = accepted_head; i < accepted.size(); ++i)
    ::close(accepted[i]);
  accepted.clear();
  accepted_head = 0;
}

HandleTable::~HandleTable() {
  for (auto& st : states_)
    st->close_accepted();
}

HandleState* HandleTable::get(native_handle handle) noexcept {
  if (HandleState* st = find(handle)) return st;
  if (handle < 0) return nullptr;
  const auto i = static_cast<std::size_t>(handle);
  try {
    if (i >= by_fd_.size()) by_fd_.resize(std::max<std::size_t>(i + 1, by_fd_.size() * 2));
    HandleState* st = free_;
    if (st != nullptr) {
      free_ = st->next_free;
    } else {
      states_.push_back(std::make_unique<HandleState>());
      st = states_.back().get();
    }
    st->fd = static_cast<int>(handle);
    st->life = Life::live;
    by_fd_[i] = st;
    return st;
  } catch (const std::bad_alloc&) {
    return nullptr;  // the single-shot path needs no state
  }
}

void HandleTable::unlink(HandleState& st) noexcept {
  by_fd_[static_cast<std::size_t>(st.fd)] = nullptr;
  st.life = Life::released;
}

void HandleTable::put_back(HandleState& st) noexcept {
  std::vector<int> keep = std::move(st.accepted);  // its capacity, for the next user
  keep.clear();
  st = HandleState{};
  st.accepted = std::move(keep);
  st.next_free = free_;
  free_ = &st;
}

}  // namespace corio::uring
