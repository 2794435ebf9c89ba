// What every scenario binary shares: the common options (placement, memory binding, TOML
// file, output), the placement and pinning of the two sides, the in-run physical baselines,
// latency statistics, and the one result-row schema (docs/scenarios.md).
#pragma once

#include "placement.hpp"
#include "targets.hpp"

#include "cli_checks.hpp"

#include <marllb/measure/percentile.hpp>
#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace marllb::scenarios {

struct Common {
    std::string placement = "auto"; // auto: same-package, else smt, else cross-numa, else unpinned
    std::string mem_bind = "none";
    std::string config;             // TOML file; command-line options override its keys
    std::string out_dir;            // empty: a run folder of its own, results/runs/<UTC time>-<pid>/ (run_folder())
    std::string profile = "custom";
    std::string name;               // rows' scenario name and CSV file (default: the binary's)
    std::string targets = MARLLB_TARGETS_FILE; // what the rows are judged against
    bool quiet = false;
};

// Registers the common options; every option takes its last value (file first, then command line).
void add_common_options(CLI::App &app, Common &c);
// Reads the scenario file at path into text: "" when done, else why not (with the OS's reason).
std::string read_config(const std::string &path, std::string &text);
// The folder a run writes to without --out: results/runs/<UTC time>-<pid>, one per process.
const std::string &run_folder();
// Where rows go: --out, else run_folder(). begin() checks the scenario's CSV there (writable, of
// this column set) before the run starts.
std::string out_dir(const Common &c);
// Parses the command line over the TOML file named by --config (every option's help then shows
// its default), and adds --version. Returns -1 to go on, or the exit code: 0 after --help or
// --version, 2 after one line that says what was wrong (for a value from the file: its file:line).
int parse(CLI::App &app, int argc, char **argv);
int parse_args(CLI::App &app, const std::vector<std::string> &cmdline); // the same without argv[0]
// The options of a TOML document in memory, as --key=value arguments (the scenario-file fuzzer
// and the tests use it), and where_each[i] = "file:line: " of args[i] when given. Returns an
// empty string on success, else the error message.
std::string apply_toml(CLI::App &app, std::string_view text, std::string_view name, std::vector<std::string> &args,
                       std::vector<std::string> *where_each = nullptr);

// ---- latency statistics: count, p50, p90, p99, p99.9, max by the project's one percentile
// definition (linear interpolation, marllb/measure/percentile.hpp)
using Stats = measure::Summary;
[[nodiscard]] inline Stats stats(std::vector<double> v) { return measure::summarize(std::move(v)); }

// ---- in-run baselines between the two chosen CPUs
struct Baselines {
    double cacheline_one_way_ns = 0; // p50 of half a cache-line ping-pong round trip
    double memcpy_ns = 0;            // median memcpy of one msg_out_t (2,848 B), hot
};

// ---- the run's setting: topology, placement, binding
struct Setting {
    std::optional<Topology> topo;
    Placement placement;
    MemBind mem_bind = MemBind::none;
    Baselines base;
    Targets targets;   // from Common::targets
    std::string error; // set when the asked placement is unavailable or invalid
};
// Resolves the placement, pins this process to the LB CPU, measures the baselines.
Setting prepare(const Common &c, bool measure_baselines = true);
// prepare(), then what every scenario does when it cannot run: print the error (exit 2), or
// write the one "unavailable" row for a placement the machine lacks. Returns -1 to go on,
// else the exit code.
int begin(const Common &c, Setting &s, const std::string &scenario, const std::string &regime = "all");
// Forks a child pinned to the agent CPU that runs fn and exits with its return value.
pid_t fork_agent(const Setting &s, const std::function<int()> &fn);
int wait_child(pid_t pid); // exit code, or 128 + signal

// Anonymous shared memory for the parent and its forked children (results, flags).
void *map_shared(std::size_t bytes);
template <class T> T *shared_block() { return new (map_shared(sizeof(T))) T(); }

// Thrashes the caches (a walk over 2x the last-level cache): the cold regime a busy data
// plane leaves between two publishes 200 ms apart.
void thrash_caches();

void sleep_until_ns(std::uint64_t mono_ns);
[[nodiscard]] inline std::uint64_t now_ns() { return marllb_now_mono_ns(); }

// ---- result rows (one schema for all scenarios)
struct Row {
    std::string scenario, regime, metric, unit = "ns", status = "ok", note;
    double cadence_us = 0, read_us = 0, expected = 0;
    Stats s;
    std::uint64_t published = 0, read = 0, skipped = 0, lost = 0, torn_accepted = 0, retries = 0, fallbacks = 0;
    std::vector<std::pair<std::string, std::string>> broken; // invariants broken: id (targets.toml), detail
    // Marks an invariant of scenarios/targets.toml broken; write_rows makes the row `fail`.
    void fail(std::string invariant_id, std::string detail) { broken.emplace_back(std::move(invariant_id), std::move(detail)); }
};
// The one result row of r (its columns do not depend on the values: begin() checks the CSV with it).
measure::ResultRow result_row(const Common &c, const Setting &s, const Row &r);
// Judges each row against the targets (status ok, miss or fail: targets.hpp), appends the rows
// to <out_dir(c)>/<scenario>.csv, prints them as a table and says which file each went to.
// Returns 1 when a row fails.
int write_rows(const Common &c, const Setting &s, const std::vector<Row> &rows);

} // namespace marllb::scenarios
