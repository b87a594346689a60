// Downward includes are fine.
#pragma once
#include "corio/os/handle.hpp"
