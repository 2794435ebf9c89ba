// The host metadata every result row of every tool carries, so that rows from different
// machines and commits can be merged and still told apart.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace marllb::measure {

struct Host {
    std::string run_id;     // run_id(): joins the row to its run folder
    std::string date;       // UTC, ISO 8601 (2026-11-26T09:39:40Z): when the row was made
    std::string git_commit; // $MARLLB_GIT_COMMIT when set, else build_git_commit()
    std::string cpu_model;  // /proc/cpuinfo "model name", else "unknown"
    std::string kernel;     // uname -r
};

// The commit this binary was built from: 12 hex digits, "-dirty" when a tracked source file
// (outside results/) differed from it at build time, "unknown" when built outside a git
// checkout. Generated at each build (cmake/git_commit.cmake).
[[nodiscard]] const char *build_git_commit() noexcept;

// This process's run id: $MARLLB_RUN_ID when set (a wrapper that runs several binaries gives
// them its own), else "<UTC start time>-<pid>" (20261204T162437Z-4242), fixed at the first
// call. A scenario binary without --out writes to results/runs/<run id>/.
[[nodiscard]] const std::string &run_id();

// The metadata of this machine now.
[[nodiscard]] Host host();

// The metadata as (column, value) pairs in the one order every CSV uses:
// run_id, date, git_commit, cpu_model, kernel.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> host_columns(const Host &h);

// The value after "key:" on the first line of a /proc-style file that starts with key, or
// "unknown" (no file, no such line).
[[nodiscard]] std::string proc_field(const char *path, const char *key);

} // namespace marllb::measure
