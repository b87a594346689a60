// The msghdr slot pool for recvfrom and sendto.
#include "backends/io_uring_msg.hpp"

namespace corio::uring {

MsgSlot& MsgSlots::take(Operation& op) {
  MsgSlot* s = free_;
  if (s != nullptr) {
    free_ = s->next_free;
  } else {
    slots_.push_back(std::make_unique<MsgSlot>());
    s = slots_.back().get();
  }
  *s = MsgSlot{};
  s->iov.iov_base = op.buffer;
  s->iov.iov_len = op.length;
  s->msg.msg_iov = &s->iov;
  s->msg.msg_iovlen = 1;
  s->msg.msg_name = op.address->data;
  // recvmsg may fill the whole storage; sendmsg sends to the address as it stands.
  s->msg.msg_namelen = op.code == OpCode::recvfrom ? sizeof op.address->data : op.address->size;
  s->op = &op;
  return *s;
}

Operation& MsgSlots::finish(MsgSlot& s, int res) noexcept {
  Operation& op = *s.op;
  if (op.code == OpCode::recvfrom && res >= 0) op.address->size = s.msg.msg_namelen;
  s.op = nullptr;
  s.next_free = free_;
  free_ = &s;
  return op;
}

MsgSlot* MsgSlots::find(const Operation& op) const noexcept {
  for (const auto& s : slots_) {
    if (s->op == &op) return s.get();
  }
  return nullptr;
}

}  // namespace corio::uring
