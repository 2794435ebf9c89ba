// The host metadata every result row of every tool carries, so that rows from different
// machines and commits can be merged and still told apart.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace marllb::measure {

struct Host {
    std::string date;       // UTC, ISO 8601 (2026-11-26T09:39:40Z): when the row was made
    std::string git_commit; // $MARLLB_GIT_COMMIT (the scripts set it), else "unknown"
    std::string cpu_model;  // /proc/cpuinfo "model name", else "unknown"
    std::string kernel;     // uname -r
};

// The metadata of this machine now.
[[nodiscard]] Host host();

// The metadata as (column, value) pairs in the one order every CSV uses:
// date, git_commit, cpu_model, kernel.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> host_columns(const Host &h);

// The value after "key:" on the first line of a /proc-style file that starts with key, or
// "unknown" (no file, no such line).
[[nodiscard]] std::string proc_field(const char *path, const char *key);

} // namespace marllb::measure
