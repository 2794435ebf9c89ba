#include "targets.hpp"

#include "scenario.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace marllb::scenarios {

const Target *Targets::target(std::string_view id) const {
    for (const Target &t : targets)
        if (t.id == id) return &t;
    return nullptr;
}

const Invariant *Targets::invariant(std::string_view id) const {
    for (const Invariant &i : invariants)
        if (i.id == id) return &i;
    return nullptr;
}

bool quantity(const Row &r, std::string_view q, double &v) {
    if (q == "p50") v = r.s.p50;
    else if (q == "p90") v = r.s.p90;
    else if (q == "p99") v = r.s.p99;
    else if (q == "p999") v = r.s.p999;
    else if (q == "max") v = r.s.max;
    else if (q == "count") v = double(r.s.count);
    else if (q == "published") v = double(r.published);
    else if (q == "read") v = double(r.read);
    else if (q == "skipped") v = double(r.skipped);
    else if (q == "lost") v = double(r.lost);
    else if (q == "retries") v = double(r.retries);
    else if (q == "fallbacks") v = double(r.fallbacks);
    else return false;
    return true;
}

namespace {

bool is_percentile(std::string_view q) { return q == "p50" || q == "p90" || q == "p99" || q == "p999" || q == "max"; }

std::string num(double v) { // whole numbers in full (a p99 of 11040000 ns, not 1.104e+07)
    char b[32];
    std::snprintf(b, sizeof b, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.4g", v);
    return b;
}

} // namespace

std::string parse_targets(std::string_view text, std::string_view name, Targets &out) {
    toml::table tbl;
    try {
        tbl = toml::parse(text, name);
    } catch (const toml::parse_error &e) {
        const auto &b = e.source().begin;
        return std::string(name) + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) + ": " +
               std::string(e.description());
    }
    out = Targets{};
    out.path = std::string(name);
    for (auto &&[key, node] : tbl) {
        const std::string k(key.str());
        if (k != "target" && k != "invariant")
            return std::string(name) + ":" + std::to_string(node.source().begin.line) + ": unknown table '" + k +
                   "' (a targets file holds [[target]] and [[invariant]] entries)";
    }
    auto entries = [&](const char *kind, auto &&each) -> std::string {
        const toml::array *arr = tbl[kind].as_array();
        if (!arr) return {};
        for (const toml::node &n : *arr) {
            const toml::table *t = n.as_table();
            const std::string where = std::string(name) + ":" + std::to_string(n.source().begin.line) + ": ";
            if (!t) return where + kind + " must be a table ([[" + kind + "]])";
            if (std::string err = each(*t, where); !err.empty()) return err;
        }
        return {};
    };
    auto str = [](const toml::table &t, const char *k) { return t[k].value_or(std::string()); };
    std::string err = entries("target", [&](const toml::table &t, const std::string &where) -> std::string {
        static const char *known[] = {"id", "source", "what", "scenario", "regime", "metric", "quantity", "op", "limit",
                                      "unit", "per_run_limit", "heartbeats", "cadences", "over_null", "max_cadence_us"};
        for (auto &&[key, v] : t) {
            bool ok = false;
            for (const char *kk : known) ok |= key.str() == kk;
            if (!ok) return where + "unknown key '" + std::string(key.str()) + "' in a [[target]] (see the keys at the top of the file)";
        }
        Target x;
        x.id = str(t, "id"), x.source = str(t, "source"), x.what = str(t, "what"), x.scenario = str(t, "scenario");
        x.regime = str(t, "regime"), x.metric = str(t, "metric"), x.quantity = str(t, "quantity"), x.op = str(t, "op");
        x.unit = str(t, "unit");
        x.limit = t["limit"].value_or(0.0);
        x.per_run_limit = t["per_run_limit"].value_or(false);
        x.heartbeats = t["heartbeats"].value_or(0.0), x.cadences = t["cadences"].value_or(0.0);
        x.max_cadence_us = t["max_cadence_us"].value_or(0.0);
        x.over_null = t["over_null"].value_or(-1.0);
        if (t.contains("over_null") && (!x.per_run_limit || x.over_null < 0))
            return where + "target '" + x.id + "': over_null needs per_run_limit = true and a value >= 0";
        for (const char *need : {"id", "source", "what", "scenario", "metric", "quantity", "op", "unit"})
            if (str(t, need).empty()) return where + "a [[target]] needs a string '" + need + "'";
        if (!t.contains("limit") && !x.per_run_limit)
            return where + "target '" + x.id + "' needs a numeric 'limit' (or per_run_limit = true)";
        if (x.op != "<" && x.op != "<=" && x.op != "==")
            return where + "target '" + x.id + "': op must be \"<\", \"<=\" or \"==\", not \"" + x.op + "\"";
        Row probe;
        double v;
        if (!quantity(probe, x.quantity, v))
            return where + "target '" + x.id + "': unknown quantity '" + x.quantity +
                   "' (use p50, p90, p99, p999, max, count, published, read, skipped, lost, retries or fallbacks)";
        if (x.source != "seed" && x.source != "project")
            return where + "target '" + x.id + "': source must be \"seed\" or \"project\"";
        if (out.target(x.id)) return where + "target '" + x.id + "' is defined twice";
        out.targets.push_back(std::move(x));
        return {};
    });
    if (!err.empty()) return err;
    return entries("invariant", [&](const toml::table &t, const std::string &where) -> std::string {
        Invariant i{str(t, "id"), str(t, "what")};
        if (i.id.empty() || i.what.empty()) return where + "an [[invariant]] needs strings 'id' and 'what'";
        if (out.invariant(i.id)) return where + "invariant '" + i.id + "' is defined twice";
        out.invariants.push_back(std::move(i));
        return {};
    });
}

std::string load_targets(const std::string &path, Targets &out) {
    std::ifstream in(path);
    if (!in) return "cannot read the targets file '" + path + "' (give one with --targets)";
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_targets(ss.str(), path, out);
}

bool applies(const Target &t, const Row &r) {
    if (t.scenario != r.scenario || t.metric != r.metric) return false;
    if (!t.regime.empty() && r.regime.rfind(t.regime, 0) != 0) return false;
    if (t.max_cadence_us > 0 && !(r.cadence_us > 0 && r.cadence_us <= t.max_cadence_us)) return false;
    return true;
}

std::string judge(Row &r, const Targets &t) {
    if (r.status == "unavailable") return {};
    std::string verdict;
    for (const auto &[id, detail] : r.broken) {
        if (!t.invariant(id)) return "invariant '" + id + "' is not in " + t.path + " (add it there)";
        verdict += (verdict.empty() ? "" : "; ") + std::string("broken ") + id + " (" + detail + ")";
    }
    bool missed = false;
    for (const Target &x : t.targets) {
        if (!applies(x, r)) continue;
        if (is_percentile(x.quantity) && x.unit != r.unit)
            return "target '" + x.id + "' is in " + x.unit + " but row " + r.metric + " is in " + r.unit;
        double v = 0;
        (void)quantity(r, x.quantity, v);
        const double limit = x.per_run_limit ? r.expected : x.limit;
        bool met = x.op == "<" ? v < limit : x.op == "<=" ? v <= limit : v == limit;
        std::string what = x.quantity + " " + num(v);
        if (is_percentile(x.quantity) && r.s.count == 0) met = false, what = "no samples";
        if (met) continue;
        missed = true;
        verdict += (verdict.empty() ? "" : "; ") + std::string("missed ") + x.id + " (" + what + ", limit " + x.op + " " +
                   num(limit) + " " + x.unit + ")";
    }
    r.status = !r.broken.empty() ? "fail" : missed ? "miss" : "ok";
    if (!verdict.empty()) r.note = r.note.empty() ? verdict : verdict + "; " + r.note;
    return {};
}

} // namespace marllb::scenarios
