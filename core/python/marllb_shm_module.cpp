// marllb.shm: the seed's Python API over the core, for a real RL agent (AgentRegion) and for
// Python stand-ins of the LB (LbRegion); SharedMemoryRegion(name, create=...) is the seed's
// entry point, either side in one type. pybind11 + numpy. The classes and conversions live in
// region.cpp, observation_objects.cpp and arguments.cpp; this file binds them and documents
// them, each method with a signature Python's inspect reads (doc() below).
#include "arguments.hpp"
#include "observation_objects.hpp"
#include "region.hpp"

#include <pybind11/stl.h>

#include <deque>
#include <string>

namespace py = pybind11;
using marllb_py::Region;

namespace {

#ifndef MARLLB_VERSION
#error "MARLLB_VERSION (the project's version) must be defined by the build"
#endif

constexpr const char *kModuleDoc = R"doc(marllb-shm: lock-free shared memory between a MARLLB load balancer and its RL agent.

    from marllb import shm
    region = shm.AgentRegion("marllb_lb0")   # the agent's side (attach); the LB's: shm.LbRegion
    obs = region.read_observation()          # the seed's dict, or None: nothing newer
    region.write_action(obs["sequence_id"], weights)    # alias table built here
    region.action_verdict(timeout=0.01)      # {'status': 'applied' | 'rejected' | 'stale' | 'pending', ...}

Reads. Every read returns only an observation newer than the last one this object returned
(through any of its reads), and None when there is none; a read never hands back the same
observation twice. read_observation / read_observation_arrays jump to the newest ('skipped'
counts those passed over); read_next_observation / read_next_observation_arrays return each
one in order ('lost' counts those the LB overwrote before they were read, exactly).

Errors: NoRegionError (no region yet, or being created: wait and retry), RegionError (any other
region fault: version, size, busy, ...), ReservoirsGone (a RegionError), ActionRejected (a
ValueError: the action would be refused, with .reason and .index), ActionTypeError (an
ActionRejected and a TypeError: a bool or a str where a number belongs).
Waits (wait_observation, action_verdict with a timeout) release the GIL.

SharedMemoryRegion(name, create=False) is the seed's entry point: the agent's side (create=False)
or the LB's (create=True) in one type, whose other side's methods raise RegionError code 'role'.)doc";

// A docstring from which Python's inspect reads the signature ("name(self, /, a=1)\n--\n\n",
// CPython's __text_signature__ convention; pybind11's own signature lines are switched off).
// Kept for the life of the process: pybind11 keeps the pointer.
const char *doc(const char *signature, const char *text) {
    static std::deque<std::string> kept;
    return kept.emplace_back(std::string(signature) + "\n--\n\n" + text).c_str();
}

// The sides as their own types, as the C++ API has them (marllb::shm::AgentRegion, LbRegion):
// each has only its side's methods.
struct AgentSide : Region {
    AgentSide(std::string name, py::handle dir, py::handle num_servers)
        : Region(std::move(name), false, false, dir, num_servers, false) {}
};
struct LbSide : Region {
    LbSide(std::string name, bool raw_reservoirs, py::handle dir, py::handle num_servers,
           bool group_shared)
        : Region(std::move(name), true, raw_reservoirs, dir, num_servers, group_shared) {}
};

template <class C> void bind_either_side(py::class_<C> &c) {
    c.def_property_readonly("num_servers", &Region::num_servers,
                            "The LB's declared server count (0: not declared; any count is then accepted).")
        .def_property_readonly("server_set_seq", &Region::server_set_seq,
                               "The first observation sequence id of the LB's current server set.")
        .def_property_readonly("name", &Region::name, "The region's name (its file in /dev/shm, or in dir).")
        .def_property_readonly("role", &Region::role, "'agent', 'lb' or 'closed'")
        .def_property_readonly("last_sequence", &Region::last_sequence,
                               "Agent: the sequence id last returned by a read. LB: the last one published.")
        .def("heartbeat", &Region::heartbeat, doc("heartbeat(self, /)", "Stamp this side's heartbeat."))
        .def("peer_alive", &Region::peer_alive, py::arg("timeout") = 1.0,
             doc("peer_alive(self, /, timeout=1.0)",
                 "Whether the other side stamped its heartbeat within `timeout` seconds (0 < timeout <= 86400)."))
        .def("close", &Region::close,
             doc("close(self, /)", "Unmap the region (safe to call twice); RegionError 'busy_wait' while another\n"
                                    "thread waits on it."))
        .def("unlink", &Region::unlink, doc("unlink(self, /)", "close, then remove the region file"))
        .def("__enter__", [](C &r) -> C & { return r; }, doc("__enter__(self, /)", "Return self."))
        .def("__exit__", [](C &r, py::args) { r.close(); }, doc("__exit__(self, /, *exc)", "close()"));
}

template <class C> void bind_agent_side(py::class_<C> &c) {
    c.def_property_readonly("published_sequence", &Region::published_sequence,
                            "Agent: the newest sequence id the LB published (one load).")
        .def_property_readonly("total_lost", &Region::total_lost,
                               "Agent: observations lost to wrap, counted by in-order reads, in total.")
        .def_property_readonly("pending_lost", &Region::pending_lost,
                               "Agent: lost observations counted but not yet reported in a 'lost' (they will be, with\n"
                               "the next observation read_next_observation returns).")
        .def("read_observation", &Region::read_observation,
             doc("read_observation(self, /)",
                 "The newest observation, if newer than the last one returned, as the seed's dict:\n"
                 "{'sequence_id', 'timestamp' (s since the epoch), 'active_servers': [ids], 'server_stats':\n"
                 "{id: {'n_flow_on', 'fct_mean', ... (FEATURE_NAMES)}}, 'num_active_servers', 'generation',\n"
                 "'skipped' (published since the previous one returned, never returned), 'publish_mono_ns'}.\n"
                 "None when nothing newer was published. The dict is the caller's: later reads never change\n"
                 "anything a caller holds (they refill only server_stats dicts that no Python code can reach)."))
        .def("read_observation_arrays", &Region::read_observation_arrays,
             doc("read_observation_arrays(self, /)",
                 "As read_observation, as numpy arrays over servers 0..n-1 (n = highest active + 1): 'n_flow_on'\n"
                 "uint32 (n,), 'features' float32 (n, 10) in FEATURE_NAMES order, 'active' bool (n,), and the scalars.\n"
                 "Fresh arrays the caller owns. None when nothing newer was published."))
        .def("read_next_observation", &Region::read_next_observation,
             doc("read_next_observation(self, /)",
                 "The next observation in sequence order, as the seed's dict plus 'lost': how many observations the\n"
                 "LB overwrote before they could be read, since the previous one returned (exact: returned + lost ==\n"
                 "published). None when nothing new was published."))
        .def("read_next_observation_arrays", &Region::read_next_observation_arrays,
             doc("read_next_observation_arrays(self, /)",
                 "As read_next_observation, as the numpy arrays of read_observation_arrays plus 'lost'."))
        .def("wait_observation", &Region::wait_observation, py::arg("after") = py::none(), py::arg("timeout") = 1.0,
             py::arg("arrays") = false,
             doc("wait_observation(self, /, after=None, timeout=1.0, arrays=False)",
                 "Wait (GIL released) for an observation newer than both `after` and the last one returned, then\n"
                 "return it as read_observation (arrays=False) or read_observation_arrays (arrays=True) does; None\n"
                 "after `timeout` seconds (0..86400)."))
        .def("read_reservoirs", &Region::read_reservoirs, py::arg("sequence_id") = py::none(), py::arg("out") = py::none(),
             doc("read_reservoirs(self, /, sequence_id=None, out=None)",
                 "The raw reservoirs published with observation `sequence_id` (default: the last one returned), copied\n"
                 "once into numpy memory and checked against the LB's writes (never torn, never another observation's):\n"
                 "{'sequence_id', 'fct_values' float32 (64, 128), 'fct_timestamps' uint64 ns (64, 128),\n"
                 "'duration_values', 'duration_timestamps', 'data' (the record of RESERVOIR_DTYPE they view)}.\n"
                 "out: a record to reuse (np.zeros((), RESERVOIR_DTYPE)), saving the allocation. ReservoirsGone\n"
                 "when the region no longer holds them, for good: overwritten (the LB keeps the last 2) or never\n"
                 "published with that observation; RegionError if the region has none."))
        .def("write_action", &Region::write_action, py::arg("sequence_id"), py::arg("weights"),
             py::arg("num_servers") = py::none(),
             doc("write_action(self, /, sequence_id, weights, num_servers=None)",
                 "Build the alias table from `weights` and write the action answering observation `sequence_id`.\n"
                 "weights: 1..64 real numbers (list, tuple or 1-D numpy array), each finite, >= 0 and within float32,\n"
                 "not all 0; num_servers (default len(weights)) must equal len(weights). Anything else raises\n"
                 "ActionRejected (ActionTypeError for bools and non-numbers) naming the weight's index and the reason;\n"
                 "nothing is written then. The LB's verdict follows: action_verdict()."))
        .def("verdicts", &Region::verdicts,
             doc("verdicts(self, /)",
                 "What the LB reports about actions (may be a moment old): {'applied_action_seq',\n"
                 "'applied_action_mono_ns', 'actions_applied', 'actions_rejected', 'actions_stale', 'last_rejected_seq',\n"
                 "'last_reject_reason' (code or None), 'last_reject_message', 'generation', 'published_seq'}."))
        .def("action_verdict", &Region::action_verdict, py::arg("timeout") = 0.0,
             doc("action_verdict(self, /, timeout=0.0)",
                 "The LB's verdict on the last action written through this object: {'sequence_id', 'status':\n"
                 "'applied' | 'rejected' | 'stale' (valid, but not newer than the action in force) | 'pending' (not\n"
                 "judged yet), 'reason' and 'message' (when rejected)}. With timeout > 0, waits (GIL released) up to\n"
                 "that many seconds for a verdict."));
}

template <class C> void bind_lb_side(py::class_<C> &c) {
    c.def("set_servers", &Region::set_servers, py::arg("num_servers"),
          doc("set_servers(self, /, num_servers)",
              "LB side: announce a new server set (servers added or drained) before publishing its first observation.\n"
              "Actions answering older observations are then refused ('server_set'); the action in force is dropped."))
        .def("write_observation", &Region::write_observation, py::arg("n_flow_on"), py::arg("features") = py::none(),
             py::arg("reservoirs") = py::none(),
             doc("write_observation(self, /, n_flow_on, features=None, reservoirs=None)",
                 "LB side: publish an observation of len(n_flow_on) servers (features: (n, 10) float32; reservoirs: a\n"
                 "record of RESERVOIR_DTYPE); returns its sequence id."))
        .def("read_action", &Region::read_action,
             doc("read_action(self, /)", "LB side: poll, then the action in force (dict) or None"));
}

} // namespace

PYBIND11_MODULE(shm, m) {
    py::options options;
    options.disable_function_signatures(); // each doc() carries its own
    m.doc() = kModuleDoc;
    m.attr("__version__") = MARLLB_VERSION;
    marllb_py::init_region_errors(m);
    marllb_py::init_arguments(m);
    marllb_py::init_observation_objects(m);
    m.attr("MAX_SERVERS") = MARLLB_MAX_AS;
    m.attr("ABI_VERSION") = MARLLB_ABI_VERSION;
    m.attr("RESERVOIR_CAPACITY") = MARLLB_RESERVOIR_CAPACITY;

    py::class_<AgentSide> agent(m, "AgentRegion",
                                "AgentRegion(name='marllb_lb0', dir=None, num_servers=None)\n--\n\n"
                                "The agent's side of an LB's region (marllb::shm::AgentRegion): reads observations, writes actions.");
    agent.def(py::init<std::string, py::handle, py::handle>(), py::arg("name") = "marllb_lb0",
              py::arg("dir") = py::none(), py::arg("num_servers") = py::none(),
              doc("__init__(self, /, name='marllb_lb0', dir=None, num_servers=None)",
                  "Attach to the region `name` (in /dev/shm, or in dir) as its agent. num_servers: the count the agent\n"
                  "is built for (RegionError code 'server_count' if the LB declared another). NoRegionError if there is\n"
                  "no region yet (wait and retry); RegionError (.code) for any other fault; ValueError for a name or\n"
                  "dir containing NUL."));
    bind_either_side(agent);
    bind_agent_side(agent);

    py::class_<LbSide> lb(m, "LbRegion",
                          "LbRegion(name='marllb_lb0', raw_reservoirs=False, dir=None, num_servers=None, group_shared=False)\n--\n\n"
                          "The LB's side of a region (marllb::shm::LbRegion): publishes observations, reads actions.");
    lb.def(py::init<std::string, bool, py::handle, py::handle, bool>(), py::arg("name") = "marllb_lb0",
           py::arg("raw_reservoirs") = false, py::arg("dir") = py::none(), py::arg("num_servers") = py::none(),
           py::arg("group_shared") = false,
           doc("__init__(self, /, name='marllb_lb0', raw_reservoirs=False, dir=None, num_servers=None, group_shared=False)",
               "Create the region `name`, or reopen it as a restarting LB when a previous LB left it (sequence ids\n"
               "continue). raw_reservoirs adds that section; group_shared makes it mode 0660; num_servers: the LB's\n"
               "server count, which every action must match. RegionError (.code) for any fault; ValueError for a\n"
               "name or dir containing NUL."));
    bind_either_side(lb);
    bind_lb_side(lb);

    py::class_<Region> either(m, "SharedMemoryRegion",
                              "SharedMemoryRegion(name='marllb_lb0', create=False, raw_reservoirs=False, dir=None, "
                              "num_servers=None, group_shared=False)\n--\n\n"
                              "The seed's entry point: the agent's side (create=False, the seed's use) or the LB's (create=True)\n"
                              "in one type; the other side's methods raise RegionError code 'role'. New code: AgentRegion, LbRegion.");
    either.def(py::init<std::string, bool, bool, py::handle, py::handle, bool>(),
               py::arg("name") = "marllb_lb0", py::arg("create") = false, py::arg("raw_reservoirs") = false,
               py::arg("dir") = py::none(), py::arg("num_servers") = py::none(), py::arg("group_shared") = false,
               doc("__init__(self, /, name='marllb_lb0', create=False, raw_reservoirs=False, dir=None, num_servers=None, "
                   "group_shared=False)",
                   "Attach as the agent (create=False, as AgentRegion), or open the region as its LB (create=True, as\n"
                   "LbRegion). raw_reservoirs and group_shared are the LB's choices (ValueError on the agent side)."));
    bind_either_side(either);
    bind_agent_side(either);
    bind_lb_side(either);
}
