// An OS-layer file that reaches up to the scheduler: check_includes.py must refuse it.
#pragma once
#include "corio/coro/loop.hpp"
