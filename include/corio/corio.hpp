// corio: asyncio's programming model for C++20 coroutines. The one header users include.
#pragma once

#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/future.hpp"
#include "corio/coro/gather.hpp"
#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/run.hpp"
#include "corio/coro/shield.hpp"
#include "corio/coro/sleep.hpp"
#include "corio/coro/task.hpp"
#include "corio/coro/wait.hpp"
#include "corio/reactor/reactor.hpp"
