// RuntimeError: what asyncio's synchronisation primitives raise when they are misused.
#pragma once

#include <stdexcept>

namespace corio {

/// Like Python's RuntimeError as asyncio.Lock / asyncio.Condition raise it: releasing a
/// lock nobody holds, waiting on or notifying a condition without its lock.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace corio
