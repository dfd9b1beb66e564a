// What phase 2 reports back from a store for each message it destroyed or moved.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sweeper/summary.hpp"

namespace rm::sweep {

struct DestroyOutcome {
    int removed = 0;    // names unlinked
    int vanished = 0;   // names gone before we got to them (expunged meanwhile)
    bool overwritten = false;
    std::vector<Skip> skips;  // what went wrong; empty when all went well
    std::vector<std::pair<size_t, std::string>> folders;  // (root, folder) where names were removed
};

struct MoveOutcome {
    enum class Result { Moved, AlreadyThere, Vanished, Failed };
    Result result = Result::Failed;
    std::optional<Skip> skip;
    bool created_folder = false;
    DestroyOutcome source;  // the source's destruction (Moved, AlreadyThere)
};

}  // namespace rm::sweep
