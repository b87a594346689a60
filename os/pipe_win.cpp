// Windows pipes behind corio/os/pipe.hpp. CreatePipe's anonymous pipes are synchronous
// only, so, as libuv and CPython's asyncio (windows_utils.pipe) do, a pipe here is a
// one-instance named pipe under a unique name, both ends opened FILE_FLAG_OVERLAPPED so
// the IOCP backend can ReadFile/WriteFile them. Neither handle is inherited.
#include <windows.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>

#include "corio/os/pipe.hpp"
#include "os/winsock.hpp"

namespace corio::os {

PipeEnds open_pipe() {
  static std::atomic<unsigned long> counter{0};
  const std::wstring name = L"\\\\.\\pipe\\corio-" + std::to_wstring(::GetCurrentProcessId()) +
                            L"-" + std::to_wstring(counter.fetch_add(1)) + L"-" +
                            std::to_wstring(::GetTickCount64());
  constexpr DWORD kBuffer = 64 * 1024;  // a Linux pipe's default capacity
  HANDLE read_end = ::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, kBuffer,
      kBuffer, 0, nullptr);
  if (read_end == INVALID_HANDLE_VALUE) {
    throw std::system_error(winsock::to_errno(::GetLastError()), std::generic_category(),
                            "corio: CreateNamedPipe");
  }
  // FILE_READ_ATTRIBUTES: lets the write end ask about the pipe (GetNamedPipeInfo).
  HANDLE write_end = ::CreateFileW(name.c_str(), GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, nullptr,
                                   OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  if (write_end == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    ::CloseHandle(read_end);
    throw std::system_error(winsock::to_errno(err), std::generic_category(), "corio: CreateFile");
  }
  return PipeEnds{reinterpret_cast<native_handle>(read_end),
                  reinterpret_cast<native_handle>(write_end)};
}

std::intptr_t try_write(native_handle /*h*/, const void* /*buf*/, std::size_t /*len*/) noexcept {
  return -EAGAIN;
}

void close_handle(native_handle h) noexcept {
  if (h != invalid_handle) ::CloseHandle(reinterpret_cast<HANDLE>(h));
}

}  // namespace corio::os
