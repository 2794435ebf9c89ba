#include "scenario.hpp"

#include <marllb/measure/command_line.hpp>
#include <marllb/measure/host.hpp>
#include <marllb/measure/result_row.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace marllb::scenarios {

void add_common_options(CLI::App &app, Common &c) {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--placement", c.placement, "auto, same-package, smt, cross-numa or unpinned (from hwloc)");
    app.add_option("--mem-bind", c.mem_bind, "region memory: none, writer (LB's node), reader (agent's node), interleave");
    app.add_option("--config", c.config, "a TOML file of options (keys are the long option names without --)");
    app.add_option("--out", c.out_dir, "directory of the result CSVs (<out>/<scenario>.csv); without it a new run folder, "
                                        "results/runs/<UTC time>-<pid>/ (scripts/scenarios.sh passes --out results/scenarios)");
    app.add_option("--profile", c.profile, "a label written into each row (quick, full, custom)");
    app.add_option("--name", c.name, "scenario name in the rows and the CSV file (e.g. placement)");
    app.add_option("--targets", c.targets, "the targets and invariants rows are judged against (TOML)");
    app.add_flag("--quiet", c.quiet, "no progress lines");
}

std::string apply_toml(CLI::App &app, std::string_view text, std::string_view name, std::vector<std::string> &args,
                       std::vector<std::string> *where_each) {
    toml::table tbl;
    try {
        tbl = toml::parse(text, name);
    } catch (const toml::parse_error &e) {
        const auto &b = e.source().begin;
        return std::string(name) + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) + ": " +
               std::string(e.description()) + " (a scenario file is TOML: key = value, one per line)";
    }
    for (auto &&[key, node] : tbl) {
        const std::string k(key.str());
        const auto line = node.source().begin.line;
        auto where = [&] { return std::string(name) + ":" + std::to_string(line) + ": "; };
        if (k == "config") return where() + "'config' cannot name another file";
        CLI::Option *opt = app.get_option_no_throw("--" + k);
        if (!opt) {
            std::string known;
            for (const CLI::Option *o : app.get_options())
                if (!o->get_lnames().empty() && o->get_lnames()[0] != "help" && o->get_lnames()[0] != "config")
                    known += (known.empty() ? "" : ", ") + o->get_lnames()[0];
            return where() + "unknown key '" + k + "' (known: " + known + ")";
        }
        std::string value;
        if (auto s = node.value<std::string>()) value = *s;
        else if (auto b = node.value_exact<bool>()) value = *b ? "true" : "false";
        else if (auto i = node.value_exact<std::int64_t>()) value = std::to_string(*i);
        else if (auto d = node.value_exact<double>()) {
            std::ostringstream ss;
            ss << *d;
            value = ss.str();
        } else return where() + "key '" + k + "' must be a string, number or boolean";
        args.push_back("--" + k + "=" + value);
        if (where_each) where_each->push_back(where());
    }
    return {};
}

int parse(CLI::App &app, int argc, char **argv) {
    if (app.get_name().empty()) app.name(std::filesystem::path(argv[0]).filename().string());
    return parse_args(app, std::vector<std::string>(argv + 1, argv + argc));
}

int parse_args(CLI::App &app, const std::vector<std::string> &cmdline) {
    if (!app.get_option_no_throw("--version")) measure::add_version_flag(app, app.get_name());
    std::vector<std::string> args, where;
    std::string config;
    for (std::size_t i = 0; i < cmdline.size(); ++i) {
        const std::string &a = cmdline[i];
        if (a == "--config" && i + 1 < cmdline.size()) config = cmdline[i + 1];
        else if (a.rfind("--config=", 0) == 0) config = a.substr(9);
    }
    if (!config.empty()) {
        std::string text;
        std::string err = read_config(config, text);
        if (err.empty()) err = apply_toml(app, text, config, args, &where);
        if (!err.empty()) {
            fmt::print(stderr, "{}: {}\n", app.get_name(), err);
            return 2;
        }
    }
    for (CLI::Option *o : app.get_options()) // --help shows each default
        if (o->get_expected_min() > 0) o->capture_default_str(); // not flags, not --help
    // Each value of the file alone first: a type or range error then names its file:line.
    for (std::size_t k = 0; k < args.size(); ++k) {
        std::vector<std::string> one{args[k]};
        try {
            app.parse(one);
        } catch (const CLI::ConversionError &e) {
            app.clear();
            return measure::exit_code(app, e, where[k]);
        } catch (const CLI::ValidationError &e) {
            app.clear();
            return measure::exit_code(app, e, where[k]);
        } catch (const CLI::ArgumentMismatch &e) {
            app.clear();
            return measure::exit_code(app, e, where[k]);
        } catch (const CLI::ParseError &) { // anything else is judged with the whole command line
        }
        app.clear();
    }
    args.insert(args.end(), cmdline.begin(), cmdline.end());
    std::reverse(args.begin(), args.end()); // CLI11 parses a vector from its back
    return measure::parse_command_line(app, args);
}

std::string read_config(const std::string &path, std::string &text) {
    std::ifstream in(path);
    if (!in) {
        const int e = errno;
        return "cannot read scenario file '" + path + "': " + std::strerror(e) +
               " (a TOML file of options, e.g. scenarios/configs/cadence-production.toml)";
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return {};
}

const std::string &run_folder() {
    static const std::string dir = "results/runs/" + measure::run_id();
    return dir;
}

std::string out_dir(const Common &c) { return c.out_dir.empty() ? run_folder() : c.out_dir; }

void *map_shared(std::size_t bytes) {
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fmt::print(stderr, "mmap of {} bytes: {}\n", bytes, std::strerror(errno));
        std::exit(2);
    }
    return p;
}

void sleep_until_ns(std::uint64_t t) {
    struct timespec ts{time_t(t / 1'000'000'000u), long(t % 1'000'000'000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

void thrash_caches() {
    static std::vector<std::uint64_t> buf(64u << 20 >> 3); // 64 MiB: twice a 32 MiB L3
    static std::uint64_t k = 0;
    ++k;
    for (std::size_t i = 0; i < buf.size(); i += 8) buf[i] += k;
}

namespace {
struct alignas(64) PingPong {
    std::atomic<std::uint64_t> ping{0};
    alignas(64) std::atomic<std::uint64_t> pong{0};
};

Baselines measure(const Setting &s) {
    Baselines b;
    // Cache line: the child answers each ping; one-way = round trip / 2.
    auto *pp = new (map_shared(sizeof(PingPong))) PingPong();
    const pid_t child = fork_agent(s, [pp] {
        for (std::uint64_t i = 1; i <= 20000; ++i) {
            while (pp->ping.load(std::memory_order_acquire) != i) {
            }
            pp->pong.store(i, std::memory_order_release);
        }
        return 0;
    });
    std::vector<double> rtt;
    for (std::uint64_t i = 1; i <= 20000; ++i) {
        const std::uint64_t t0 = now_ns();
        pp->ping.store(i, std::memory_order_release);
        while (pp->pong.load(std::memory_order_acquire) != i) {
        }
        if (i > 1000) rtt.push_back(double(now_ns() - t0) / 2);
    }
    wait_child(child);
    munmap(pp, sizeof(PingPong));
    b.cacheline_one_way_ns = stats(rtt).p50;
    // memcpy of one observation, hot.
    std::vector<unsigned char> src(sizeof(marllb_msg_out_t), 1), dst(sizeof(marllb_msg_out_t));
    std::vector<double> t;
    for (int r = 0; r < 200; ++r) {
        const std::uint64_t t0 = now_ns();
        for (int i = 0; i < 100; ++i) {
            std::memcpy(dst.data(), src.data(), src.size());
            asm volatile("" ::"r"(dst.data()) : "memory");
        }
        t.push_back(double(now_ns() - t0) / 100);
    }
    b.memcpy_ns = stats(t).p50;
    return b;
}
} // namespace

Setting prepare(const Common &c, bool measure_baselines) {
    Setting s;
    if (std::string terr = load_targets(c.targets, s.targets); !terr.empty()) {
        s.error = terr;
        return s;
    }
    std::string err;
    s.topo = Topology::machine(&err);
    if (!s.topo) {
        s.error = err;
        return s;
    }
    if (!parse_mem_bind(c.mem_bind, s.mem_bind)) {
        s.error = "unknown --mem-bind '" + c.mem_bind + "': use none, writer, reader or interleave";
        return s;
    }
    if (c.placement == "auto") {
        const auto classes = s.topo->available_classes();
        s.placement = classes.empty() ? s.topo->plan(PlacementClass::unpinned) : s.topo->plan(classes.front());
        for (auto pc : classes)
            if (pc == PlacementClass::same_package) s.placement = s.topo->plan(pc);
    } else {
        PlacementClass pc;
        if (!parse_placement(c.placement, pc)) {
            s.error = "unknown --placement '" + c.placement + "': use auto, same-package, smt, cross-numa or unpinned";
            return s;
        }
        s.placement = s.topo->plan(pc);
        if (!s.placement.available) return s; // the caller writes an "unavailable" row
    }
    if (s.placement.lb_cpu >= 0 && !s.topo->bind_process(s.placement.lb_cpu, &err)) {
        s.error = err;
        return s;
    }
    if (measure_baselines) s.base = measure(s);
    return s;
}

int begin(const Common &c, Setting &s, const std::string &scenario, const std::string &regime) {
    // The outputs first: a run whose rows cannot be written would be lost at its end.
    const std::string csv = out_dir(c) + "/" + (c.name.empty() ? scenario : c.name) + ".csv";
    if (auto ok = result_row(c, Setting{}, Row{}).check_appendable(csv); !ok) {
        fmt::print(stderr, "marllb-scenario-{}: {} (--out)\n", scenario, ok.error().message);
        return 2;
    }
    s = prepare(c);
    if (!s.error.empty()) {
        fmt::print(stderr, "marllb-scenario-{}: {}\n", scenario, s.error);
        return 2;
    }
    if (s.placement.available) return -1;
    Row r;
    r.scenario = scenario, r.regime = regime, r.metric = "all", r.status = "unavailable", r.note = s.placement.why;
    return write_rows(c, s, {r});
}

pid_t fork_agent(const Setting &s, const std::function<int()> &fn) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        fmt::print(stderr, "fork: {}\n", std::strerror(errno));
        std::exit(2);
    }
    if (pid == 0) {
        if (s.placement.agent_cpu >= 0) {
            std::string err;
            if (!s.topo->bind_process(s.placement.agent_cpu, &err)) fmt::print(stderr, "{}\n", err);
        }
        _exit(fn());
    }
    return pid;
}

int wait_child(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

measure::ResultRow result_row(const Common &c, const Setting &s, const Row &r) {
    measure::ResultRow row;
    row.add("scenario", r.scenario).add("profile", c.profile).add("placement", std::string(describe(s.placement.cls)))
        .add("placement_available", std::string(s.placement.available ? "yes" : "no"))
        .add("lb_cpu", s.placement.lb_cpu).add("agent_cpu", s.placement.agent_cpu)
        .add("mem_bind", std::string(describe(s.mem_bind))).add("regime", r.regime).add("cadence_us", r.cadence_us)
        .add("read_us", r.read_us).add("metric", r.metric).add("unit", r.unit).add("count", std::uint64_t(r.s.count))
        .add("p50", r.s.p50).add("p90", r.s.p90).add("p99", r.s.p99).add("p999", r.s.p999).add("max", r.s.max)
        .add("published", r.published).add("read", r.read).add("skipped", r.skipped).add("lost", r.lost)
        .add("torn_accepted", r.torn_accepted).add("retries", r.retries).add("fallbacks", r.fallbacks)
        .add("expected", r.expected).add("baseline_cacheline_ns", s.base.cacheline_one_way_ns)
        .add("baseline_memcpy_ns", s.base.memcpy_ns)
        .add("p50_to_cacheline", s.base.cacheline_one_way_ns > 0 && r.unit == "ns" ? r.s.p50 / s.base.cacheline_one_way_ns : 0.0)
        .add("p99_to_cacheline", s.base.cacheline_one_way_ns > 0 && r.unit == "ns" ? r.s.p99 / s.base.cacheline_one_way_ns : 0.0)
        .add("status", r.status).add("note", r.note);
    return row;
}

int write_rows(const Common &c, const Setting &s, const std::vector<Row> &rows_in) {
    int rc = 0;
    std::vector<Row> rows = rows_in;
    for (Row &r : rows) // before --name renames the scenario: targets name the binary's scenario
        if (std::string err = judge(r, s.targets); !err.empty()) {
            fmt::print(stderr, "{}\n", err);
            return 2;
        }
    if (!c.name.empty())
        for (Row &r : rows) r.scenario = c.name;
    fmt::print("\n{:<10} {:<14} {:<26} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6} {:>6} {}\n", "scenario", "regime", "metric",
               "count", "p50", "p90", "p99", "p99.9", "max", "expected", "lost", "torn", "status");
    for (const Row &r : rows)
        fmt::print("{:<10} {:<14} {:<26} {:7} {:9.1f} {:9.1f} {:9.1f} {:9.1f} {:9.1f} {:8.4g} {:6} {:6} {}{}{}\n", r.scenario, r.regime,
                   r.metric + " (" + r.unit + ")", r.s.count, r.s.p50, r.s.p90, r.s.p99, r.s.p999, r.s.max, r.expected, r.lost,
                   r.torn_accepted, r.status, r.note.empty() ? "" : ": ", r.note);
    fmt::print("placement {}, memory {}; baselines: cache line one way {:.1f} ns, memcpy 2,848 B {:.1f} ns\n", s.placement.label(),
               describe(s.mem_bind), s.base.cacheline_one_way_ns, s.base.memcpy_ns);
    const std::string dir = out_dir(c);
    std::set<std::string> written;
    for (const Row &r : rows) {
        const measure::ResultRow row = result_row(c, s, r);
        const std::string path = dir + "/" + r.scenario + ".csv";
        if (auto ok = row.append_to(path); !ok) {
            fmt::print(stderr, "marllb-scenario-{}: {}\n", rows_in.front().scenario, ok.error().message);
            return 2;
        }
        written.insert(path);
        if (r.status == "fail") rc = 1;
    }
    for (const std::string &path : written) fmt::print("rows appended to {}\n", path);
    return rc;
}

} // namespace marllb::scenarios
