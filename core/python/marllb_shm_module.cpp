// marllb_shm: the seed's Python API over the core, for a real RL agent (and, for tests and
// examples, the LB side). pybind11 + numpy.
//
//   region = marllb_shm.SharedMemoryRegion("marllb_lb0")          # agent side (attach)
//   obs = region.read_observation()                              # the seed's dict, or None
//   arr = region.read_observation_arrays()                       # numpy fast path
//   region.write_action(obs["sequence_id"], weights)             # alias table built here
//
// Errors are exceptions carrying the core's messages: NoRegionError (no region yet, or being
// created: wait and retry), RegionError (any other region fault: version, size, busy, ...),
// ActionRejected (a ValueError: the action would be refused by the LB, with the reason).
// Blocking calls (wait_observation) release the GIL.
#include <marllb/shm.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace py = pybind11;
using namespace marllb;

namespace {

struct RegionError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct NoRegionError : RegionError {
    using RegionError::RegionError;
};
struct ActionRejected : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

[[noreturn]] void raise(const shm::Error &e) {
    if (e.code == shm::Errc::no_region || e.code == shm::Errc::not_ready) throw NoRegionError(e.message);
    throw RegionError(e.message);
}

constexpr const char *kFeatureNames[MARLLB_FEATURES_PER_AS] = {
    "fct_mean",      "fct_p90",      "fct_std",      "fct_mean_decay",      "fct_p90_decay",
    "duration_mean", "duration_p90", "duration_std", "duration_mean_decay", "duration_p90_decay"};

class SharedMemoryRegion {
public:
    // create=False: attach as the agent (the seed's use). create=True: create it as the LB
    // (tests, examples, a Python LB stand-in); raw_reservoirs adds that section.
    SharedMemoryRegion(std::string name, bool create, bool raw_reservoirs, std::optional<std::string> dir)
        : name_(std::move(name)), dir_(dir.value_or("")) {
        shm::Options o = shm::default_options();
        if (!dir_.empty()) o.dir = dir_.c_str();
        if (create) {
            if (raw_reservoirs) o.flags |= MARLLB_OPT_RAW_RESERVOIRS;
            auto r = shm::LbRegion::create(name_, o);
            if (!r) raise(r.error());
            lb_.emplace(std::move(*r));
        } else {
            auto a = shm::AgentRegion::attach(name_, o);
            if (!a) raise(a.error());
            agent_.emplace(std::move(*a));
        }
    }

    [[nodiscard]] std::string role() const { return lb_ ? "lb" : agent_ ? "agent" : "closed"; }

    // ---- agent side
    py::object read_observation() {
        shm::Observation o;
        if (!newest(o)) return py::none();
        py::dict d;
        d["sequence_id"] = o.msg.sequence_id;
        d["timestamp"] = double(o.msg.timestamp_us) / 1e6;
        py::list active;
        py::dict stats;
        for (unsigned s = 0; s < MARLLB_MAX_AS; ++s) {
            if (!(o.msg.active_as_bitmap >> s & 1)) continue;
            active.append(s);
            py::dict st;
            st["n_flow_on"] = o.msg.as_stats[s].n_flow_on;
            for (unsigned f = 0; f < MARLLB_FEATURES_PER_AS; ++f) st[kFeatureNames[f]] = o.msg.as_stats[s].reservoir_features[f];
            stats[py::int_(s)] = st;
        }
        d["active_servers"] = active;
        d["server_stats"] = stats;
        d["num_active_servers"] = o.msg.num_active_as;
        d["generation"] = o.generation;
        d["skipped"] = o.skipped;
        d["publish_mono_ns"] = o.publish_mono_ns;
        return d;
    }

    // The numpy fast path: arrays over servers 0..n-1 (n = highest active + 1), no per-server dicts.
    py::object read_observation_arrays() {
        shm::Observation o;
        if (!newest(o)) return py::none();
        const unsigned n = o.msg.active_as_bitmap ? 64u - unsigned(__builtin_clzll(o.msg.active_as_bitmap)) : 0u;
        py::array_t<std::uint32_t> n_on(n);
        py::array_t<float> feat({py::ssize_t(n), py::ssize_t(MARLLB_FEATURES_PER_AS)});
        py::array_t<bool> active(n);
        auto pn = n_on.mutable_unchecked<1>();
        auto pf = feat.mutable_unchecked<2>();
        auto pa = active.mutable_unchecked<1>();
        for (unsigned s = 0; s < n; ++s) {
            pn(s) = o.msg.as_stats[s].n_flow_on;
            pa(s) = (o.msg.active_as_bitmap >> s & 1) != 0;
            for (unsigned f = 0; f < MARLLB_FEATURES_PER_AS; ++f) pf(s, f) = o.msg.as_stats[s].reservoir_features[f];
        }
        py::dict d;
        d["sequence_id"] = o.msg.sequence_id;
        d["timestamp"] = double(o.msg.timestamp_us) / 1e6;
        d["active"] = active;
        d["n_flow_on"] = n_on;
        d["features"] = feat;
        d["generation"] = o.generation;
        d["publish_mono_ns"] = o.publish_mono_ns;
        return d;
    }

    // Blocks (GIL released) until an observation newer than `after` is published or timeout
    // seconds pass; returns it (the seed's dict) or None.
    py::object wait_observation(std::optional<std::uint64_t> after, double timeout) {
        auto &a = agent();
        const std::uint64_t since = after.value_or(a.last_returned());
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
        bool got = false;
        {
            py::gil_scoped_release release;
            while (!(got = a.published_sequence() > since) && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        return got ? read_observation() : py::none();
    }

    // Builds the alias table from the weights and writes the action answering observation
    // sequence_id. Raises ActionRejected (with the reason) if the LB would refuse it.
    void write_action(std::uint64_t sequence_id, const std::vector<float> &weights, std::optional<std::uint32_t> num_servers) {
        auto &a = agent();
        shm::MsgIn act{};
        act.sequence_id = sequence_id;
        act.timestamp_us = marllb_now_realtime_us();
        const std::size_t n = num_servers.value_or(std::uint32_t(weights.size()));
        if (n == 0 || n > MARLLB_MAX_AS)
            throw ActionRejected("num_servers must be 1..64, got " + std::to_string(n));
        if (weights.size() < n)
            throw ActionRejected("weights has " + std::to_string(weights.size()) + " values for num_servers " + std::to_string(n));
        act.num_servers = std::uint32_t(n);
        std::copy(weights.begin(), weights.begin() + std::ptrdiff_t(n), act.weights);
        if (marllb_alias_build(act.weights, act.num_servers, act.alias_table) != MARLLB_OK)
            throw ActionRejected("weights must be finite, >= 0 and not all 0 (an alias table cannot be built)");
        shm::RejectReason reason = MARLLB_ACTION_OK;
        const shm::Errc rc = a.write_action(act, obs_generation_ ? obs_generation_ : 1, &reason);
        if (rc == shm::Errc::rejected)
            throw ActionRejected(std::string("action for observation ") + std::to_string(sequence_id) +
                                 " refused: " + shm::describe(reason));
        if (rc != shm::Errc::ok) throw RegionError(shm::describe(rc));
    }

    // ---- LB side (tests, examples)
    std::uint64_t write_observation(const std::vector<std::uint32_t> &n_flow_on, std::optional<py::array_t<float>> features) {
        auto &lb = lb_side();
        if (n_flow_on.empty() || n_flow_on.size() > MARLLB_MAX_AS)
            throw std::invalid_argument("n_flow_on must have 1..64 entries, got " + std::to_string(n_flow_on.size()));
        shm::MsgOut m{};
        m.num_active_as = std::uint32_t(n_flow_on.size());
        m.active_as_bitmap = n_flow_on.size() == 64 ? ~0ull : (1ull << n_flow_on.size()) - 1;
        for (std::size_t s = 0; s < n_flow_on.size(); ++s) m.as_stats[s].n_flow_on = n_flow_on[s];
        if (features) {
            auto f = features->unchecked<2>();
            if (std::size_t(f.shape(0)) != n_flow_on.size() || f.shape(1) != MARLLB_FEATURES_PER_AS)
                throw std::invalid_argument("features must have shape (num_servers, 10)");
            for (std::size_t s = 0; s < n_flow_on.size(); ++s)
                for (unsigned k = 0; k < MARLLB_FEATURES_PER_AS; ++k) m.as_stats[s].reservoir_features[k] = f(py::ssize_t(s), k);
        }
        return lb.publish(m);
    }

    // The action in force after polling the slot: a dict, or None before any valid action.
    py::object read_action() {
        auto &lb = lb_side();
        const shm::PollResult p = lb.poll_action();
        const shm::MsgIn *a = lb.action();
        if (!a) return py::none();
        py::dict d;
        d["sequence_id"] = a->sequence_id;
        d["timestamp"] = double(a->timestamp_us) / 1e6;
        d["num_servers"] = a->num_servers;
        d["weights"] = std::vector<float>(a->weights, a->weights + a->num_servers);
        d["status"] = p.status == MARLLB_POLL_APPLIED    ? "applied"
                      : p.status == MARLLB_POLL_REJECTED ? "rejected"
                      : p.status == MARLLB_POLL_STALE    ? "stale"
                                                         : "unchanged";
        if (p.status == MARLLB_POLL_REJECTED) d["reason"] = shm::describe(p.reason);
        return d;
    }

    // ---- either side
    void heartbeat() {
        if (lb_) lb_->heartbeat();
        else agent().heartbeat();
    }
    bool peer_alive(double timeout) const {
        const auto ns = std::uint64_t(timeout * 1e9);
        if (lb_) return lb_->agent_alive(ns);
        if (agent_) return agent_->lb_alive(ns);
        throw RegionError("the region is closed");
    }
    void close() {
        lb_.reset();
        agent_.reset();
    }
    void unlink() {
        close();
        shm::Options o = shm::default_options();
        if (!dir_.empty()) o.dir = dir_.c_str();
        if (auto r = shm::unlink_region(name_, o); !r) raise(r.error());
    }
    [[nodiscard]] const std::string &name() const { return name_; }
    [[nodiscard]] std::uint64_t last_sequence() const { return agent_ ? agent_->last_returned() : lb_ ? lb_->next_sequence() - 1 : 0; }

private:
    shm::AgentRegion &agent() {
        if (!agent_) throw RegionError(lb_ ? "this is the LB side (create=True): the agent side attaches with create=False"
                                           : "the region is closed");
        return *agent_;
    }
    shm::LbRegion &lb_side() {
        if (!lb_) throw RegionError(agent_ ? "this is the agent side: only the LB (create=True) writes observations and reads actions"
                                           : "the region is closed");
        return *lb_;
    }
    bool newest(shm::Observation &o) {
        const shm::Errc rc = agent().read_newest(o);
        if (rc == shm::Errc::again) return false;
        if (rc != shm::Errc::ok) throw RegionError(shm::describe(rc));
        obs_generation_ = o.generation;
        return true;
    }

    std::string name_, dir_;
    std::optional<shm::LbRegion> lb_;
    std::optional<shm::AgentRegion> agent_;
    std::uint32_t obs_generation_ = 0;
};

} // namespace

PYBIND11_MODULE(marllb_shm, m) {
    m.doc() = "marllb-shm: lock-free shared memory between a MARLLB load balancer and its RL agent";
    auto region_error = py::register_exception<RegionError>(m, "RegionError", PyExc_RuntimeError);
    py::register_exception<NoRegionError>(m, "NoRegionError", region_error.ptr());
    py::register_exception<ActionRejected>(m, "ActionRejected", PyExc_ValueError);
    m.attr("MAX_SERVERS") = MARLLB_MAX_AS;
    m.attr("ABI_VERSION") = MARLLB_ABI_VERSION;
    py::list names;
    for (auto *n : kFeatureNames) names.append(n);
    m.attr("FEATURE_NAMES") = py::tuple(names);

    py::class_<SharedMemoryRegion>(m, "SharedMemoryRegion")
        .def(py::init<std::string, bool, bool, std::optional<std::string>>(), py::arg("name") = "marllb_lb0",
             py::arg("create") = false, py::arg("raw_reservoirs") = false, py::arg("dir") = py::none())
        .def_property_readonly("name", &SharedMemoryRegion::name)
        .def_property_readonly("role", &SharedMemoryRegion::role)
        .def_property_readonly("last_sequence", &SharedMemoryRegion::last_sequence)
        .def("read_observation", &SharedMemoryRegion::read_observation,
             "The newest observation as the seed's dict (sequence_id, timestamp, active_servers, server_stats), or None")
        .def("read_observation_arrays", &SharedMemoryRegion::read_observation_arrays,
             "The newest observation as numpy arrays: n_flow_on (n,), features (n, 10), active (n,)")
        .def("wait_observation", &SharedMemoryRegion::wait_observation, py::arg("after") = py::none(), py::arg("timeout") = 1.0,
             "Wait (GIL released) for an observation newer than `after`; None on timeout")
        .def("write_action", &SharedMemoryRegion::write_action, py::arg("sequence_id"), py::arg("weights"),
             py::arg("num_servers") = py::none())
        .def("write_observation", &SharedMemoryRegion::write_observation, py::arg("n_flow_on"), py::arg("features") = py::none(),
             "LB side: publish an observation; returns its sequence id")
        .def("read_action", &SharedMemoryRegion::read_action, "LB side: poll, then the action in force (dict) or None")
        .def("heartbeat", &SharedMemoryRegion::heartbeat)
        .def("peer_alive", &SharedMemoryRegion::peer_alive, py::arg("timeout") = 1.0)
        .def("close", &SharedMemoryRegion::close)
        .def("unlink", &SharedMemoryRegion::unlink, "close, then remove the region file")
        .def("__enter__", [](SharedMemoryRegion &r) -> SharedMemoryRegion & { return r; })
        .def("__exit__", [](SharedMemoryRegion &r, py::args) { r.close(); });
}
