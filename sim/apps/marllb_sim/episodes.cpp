// Episodes on commands (--control-fd): one marllb-sim process serves an RL environment's
// episodes one after another, so a reset costs a fresh world and fresh LBs, not a process and
// DPDK's EAL initialisation (docs/rl.md, "Episodes in one process").
//
// The channel is a stream socket the driver owns (it passes one end of a socketpair); lines of
// text, outside the shared-memory region, whose ABI knows nothing of episodes:
//   driver -> sim  "episode <seed>"   ends the episode running, if any (no row for it), and
//                                     starts a new one with this seed
//   sim -> driver  "started <seq>..." the sequence id the new episode's first observation will
//                                     carry, one per LB (the regions' ids never go back)
//   sim -> driver  "done"             the episode ran its --duration; its row is in --csv
//   sim -> driver  "error <what>"     a bad command; the process then exits with status 2
// The end of the socket (the driver closed it or died) ends the process, regions removed.
//
// A new episode is what a new process would run after the EAL: every piece of per-run state is
// built anew (a new Run, World and LoadBalancers, seeded as main.cpp and open_lbs seed them);
// only the EAL, the ports, the mbuf pool and the regions carry over. The ports are drained after
// an interrupted episode; each region declares a new server set (LbRegion::set_servers), which
// drops the action in force and refuses any answer to an observation of the previous episode.
//
// An episode runs on one thread: the world's thread calls the LB's lockstep steps itself
// (LockstepLb, the calls the LB lcore makes, in the same order), so a step costs no handoff
// between two cores, and a simulator keeps one CPU busy, not two: the simulators of a vector
// of environments on a small machine do not spin against each other.
#include "run.hpp"

#include <marllb/measure/host.hpp>
#include <marllb/measure/result_row.hpp>

#include <rte_ethdev.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace marllb::sim::app {

void add_control_option(CLI::App &app, Config &cfg) {
    app.add_option("--control-fd", cfg.control_fd,
                   "serve episodes: read commands ('episode <seed>') from this socket (a driver's socketpair end), run one "
                   "lockstep episode per command on the same regions, exit when it closes (docs/rl.md)")
        ->check(CLI::Validator(
            [](std::string &text) -> std::string {
                int fd = -1;
                const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
                struct stat st {};
                if (ec != std::errc{} || end != text.data() + text.size() || fd < 0 || ::fstat(fd, &st) != 0 ||
                    !S_ISSOCK(st.st_mode))
                    return "'" + text + "' is not an open socket: pass one end of a socketpair the driver keeps the other of";
                return {};
            },
            "SOCKET FD"))
        ->needs(app.get_option("--lockstep"))
        ->excludes(app.get_option("--flood"))
        ->excludes(app.get_option("--no-region"))
        ->excludes(app.get_option("--timeseries"));
}

bool control_pending(const Run &r) {
    pollfd p{r.control_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0; // POLLIN, or POLLHUP/POLLERR: the driver is gone, which ends the episode too
}

namespace {

class Control {
public:
    explicit Control(int fd) : fd_(fd) {}
    // The next line (without its newline), blocking; empty optional at the end of the socket.
    std::optional<std::string> next_line() {
        for (;;) {
            if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            char chunk[256];
            const ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n > 0) buf_.append(chunk, std::size_t(n));
            else if (n < 0 && errno == EINTR) continue;
            else return std::nullopt; // closed (or broken): the driver is gone
        }
    }
    // False when the driver is gone.
    bool reply(const std::string &line) {
        const std::string out = line + '\n';
        std::size_t done = 0;
        while (done < out.size()) {
            const ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            done += std::size_t(n);
        }
        return true;
    }

private:
    int fd_;
    std::string buf_;
};

std::optional<std::uint64_t> episode_seed(const std::string &line) {
    constexpr std::string_view verb = "episode ";
    if (!line.starts_with(verb)) return std::nullopt;
    std::uint64_t seed = 0;
    const char *first = line.data() + verb.size(), *last = line.data() + line.size();
    const auto [end, ec] = std::from_chars(first, last, seed);
    if (ec != std::errc{} || end != last || first == last) return std::nullopt;
    return seed;
}

void free_all(std::uint16_t port) {
    rte_mbuf *pkts[kBurst];
    unsigned n;
    while ((n = link_rx(port, pkts, kBurst)) > 0) rte_pktmbuf_free_bulk(pkts, n);
}

// The episode's Run: base's settings and shared resources, `seed`, the regions moved in from
// base, everything else as a new process has it.
std::unique_ptr<Run> new_episode(Run &base, std::uint64_t seed) {
    auto ep = std::make_unique<Run>();
    ep->cfg = base.cfg;
    ep->cfg.seed = seed;
    ep->caps = base.caps;
    ep->provisioned = base.provisioned;
    ep->events = base.events;
    ep->policy = base.policy;
    ep->model = base.model;
    ep->pool = base.pool;
    ep->ts_offset = base.ts_offset;
    ep->control_fd = base.cfg.control_fd;
    for (std::size_t i = 0; i < base.lbs.size(); ++i) {
        LbInstance &from = base.lbs[i];
        LbInstance inst;
        LbConfig lc = from.lb->config();
        lc.seed = seed * 1000 + i; // as open_lbs seeds LB i
        inst.lb = std::make_unique<LoadBalancer>(lc);
        inst.raw = from.raw;
        inst.name = from.name;
        if (from.region) {
            inst.region = std::move(from.region);
            from.region.reset();
            (void)inst.region->poll_action(); // an answer the previous episode never read: consumed, not applied
            if (inst.region->set_servers(std::uint32_t(ep->caps.size())) != shm::Errc::ok)
                fail("region '" + inst.name + "': cannot declare the new episode's servers");
        }
        ep->lbs.push_back(std::move(inst));
    }
    // The buffers' memory is reused; their contents are not.
    ep->publish_cost_ns = std::move(base.publish_cost_ns);
    ep->publish_call_ns = std::move(base.publish_call_ns);
    ep->publish_cost_ns.clear();
    ep->publish_call_ns.clear();
    return ep;
}

void give_back(Run &base, Run &ep) {
    for (std::size_t i = 0; i < base.lbs.size(); ++i) base.lbs[i].region = std::move(ep.lbs[i].region);
    base.publish_cost_ns = std::move(ep.publish_cost_ns);
    base.publish_call_ns = std::move(ep.publish_call_ns);
}

// One episode, as main() runs one process's (lockstep), the LB on this thread (LockstepLb):
// false when interrupted.
bool run_episode(Run &r, std::vector<TraceEntry> trace) {
    const Config &cfg = r.cfg;
    r.lockstep_inline = true;
    r.start_ns = mono_ns() / 1000 * 1000;
    for (auto &inst : r.lbs) inst.lb->set_drains(drain_events(r.events, r.start_ns));
    World world(world_config(r, std::move(trace)));
    Progress prog{r, nullptr};
    prog.header();
    LockstepLb lb(r);
    const std::uint64_t wall0 = mono_ns();
    world_lockstep(r, world, prog, &lb);
    const double wall_s = double(mono_ns() - wall0) * 1e-9;
    if (r.interrupted) { // frames of the old episode must not reach the new one
        free_all(std::uint16_t(cfg.port_in));
        free_all(std::uint16_t(cfg.port_out));
        return false;
    }
    const RunReport rep = report(r, &world, wall_s);
    if (!cfg.quiet) fmt::print("{}", summary_text(rep));
    if (!cfg.csv.empty())
        if (auto ok = result_row(rep, marllb::measure::host()).append_to(cfg.csv); !ok) fail(ok.error().message);
    return true;
}

// One thread runs the episodes (the LB lcore stays idle): with the default EAL arguments, which
// pin it to CPU 0 as every other simulator's, let it run on any CPU, so that simulators
// serving a vector of environments spread over the CPUs. Given EAL arguments are obeyed.
void unpin_if_default(const Config &cfg) {
    if (!cfg.eal.empty()) return;
    cpu_set_t all;
    CPU_ZERO(&all);
    for (long c = 0, n = ::sysconf(_SC_NPROCESSORS_ONLN); c < n && c < CPU_SETSIZE; ++c) CPU_SET(int(c), &all);
    (void)::sched_setaffinity(0, sizeof all, &all); // a hint: pinned is slower, not wrong
}

} // namespace

int serve_episodes(Run &base, std::vector<TraceEntry> trace) {
    const Config &cfg = base.cfg;
    Control ctl(cfg.control_fd);
    unpin_if_default(cfg);
    std::optional<std::string> line = ctl.next_line();
    std::uint64_t episodes = 0;
    int status = 0;
    while (line) {
        const auto seed = episode_seed(*line);
        if (!seed) { // the regions are removed all the same (below)
            const std::string what = "unknown command '" + *line + "': use 'episode <seed>'";
            (void)ctl.reply("error " + what);
            fmt::print(stderr, "marllb-sim: --control-fd: {}\n", what);
            status = 2;
            break;
        }
        auto ep = new_episode(base, *seed);
        std::string started = "started";
        for (const auto &inst : ep->lbs) started += fmt::format(" {}", inst.region ? inst.region->next_sequence() : 0);
        if (!ctl.reply(started)) break;
        const bool finished = run_episode(*ep, trace);
        give_back(base, *ep);
        ++episodes;
        if (finished && !ctl.reply("done")) break;
        line = ctl.next_line(); // after an interrupted episode: the command that interrupted it
    }
    if (!cfg.quiet && status == 0) fmt::print("marllb-sim: {} episodes served; the driver closed the control socket\n", episodes);
    for (auto &inst : base.lbs)
        if (inst.region && !cfg.keep_region) {
            inst.region.reset();
            (void)marllb::shm::unlink_region(inst.name);
        }
    rte_eth_dev_stop(std::uint16_t(cfg.port_in));
    rte_eth_dev_stop(std::uint16_t(cfg.port_out));
    rte_eal_cleanup();
    return status;
}

} // namespace marllb::sim::app
