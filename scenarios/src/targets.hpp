// The targets and invariants scenario rows are judged against (scenarios/targets.toml), and
// the judgement itself: ok, miss (a target missed), fail (an invariant broken).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace marllb::scenarios {

struct Row;

struct Target {
    std::string id, source, what, scenario, regime, metric, quantity, op, unit;
    double limit = 0;
    bool per_run_limit = false;        // the limit is the row's `expected`, computed by the binary
    double heartbeats = 0, cadences = 0; // factors of a per-run limit
    double over_null = -1;             // >= 0: a per-run limit, the null event's same quantity + this
    double max_cadence_us = 0;         // applies only to rows publishing at least this often (0: any)
};

struct Invariant {
    std::string id, what;
};

struct Targets {
    std::string path;
    std::vector<Target> targets;
    std::vector<Invariant> invariants;
    [[nodiscard]] const Target *target(std::string_view id) const;
    [[nodiscard]] const Invariant *invariant(std::string_view id) const;
};

// Parses a targets file. Returns an empty string on success, else what is wrong, where, and
// what to do.
[[nodiscard]] std::string load_targets(const std::string &path, Targets &out);
[[nodiscard]] std::string parse_targets(std::string_view text, std::string_view name, Targets &out);

// The row's column a target's `quantity` names (p50, p99, max, lost, ...): false if none.
[[nodiscard]] bool quantity(const Row &r, std::string_view q, double &v);

// Whether `t` applies to `r` (r.scenario is the binary's scenario, before any --name).
[[nodiscard]] bool applies(const Target &t, const Row &r);

// Sets r.status and puts the verdict first in r.note: "broken <invariant> (<detail>)" for each
// invariant the binary marked broken (Row::fail), "missed <target> (<quantity> <value>, limit
// <op> <limit> <unit>)" for each target that applies and is missed. An unavailable row stays
// unavailable. Returns an empty string, or the error of an invariant id the file lacks.
[[nodiscard]] std::string judge(Row &r, const Targets &t);

} // namespace marllb::scenarios
