// Seed worlds for the Asana emulator (test layer, tests/emulator): the built-in `demo`,
// `small` and `medium` worlds and custom worlds from a JSON file (format in README.md).
// Seeding is deterministic: the same seed gives the same gids, names, times and bytes.
#ifndef TESTS_EMULATOR_SEEDS_H_
#define TESTS_EMULATOR_SEEDS_H_

#include <string>

#include "world.h"

namespace asanafs::emulator {

// Fills an empty world from `seed` (demo, small, medium or a path to a .json file).
bool SeedWorld(World& world, const std::string& seed, std::string* error);

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_SEEDS_H_
