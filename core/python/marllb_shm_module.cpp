// marllb_shm: the seed's Python API over the core, for a real RL agent (and, for tests and
// examples, the LB side). pybind11 + numpy. The classes and conversions live in region.cpp,
// observation_objects.cpp and arguments.cpp; this file binds them and documents them.
#include "arguments.hpp"
#include "observation_objects.hpp"
#include "region.hpp"

#include <pybind11/stl.h>

namespace py = pybind11;
using marllb_py::Region;

namespace {

constexpr const char *kModuleDoc = R"doc(marllb-shm: lock-free shared memory between a MARLLB load balancer and its RL agent.

    region = marllb_shm.SharedMemoryRegion("marllb_lb0")   # agent side (attach)
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
Waits (wait_observation, action_verdict with a timeout) release the GIL.)doc";

} // namespace

PYBIND11_MODULE(marllb_shm, m) {
    m.doc() = kModuleDoc;
    marllb_py::init_region_errors(m);
    marllb_py::init_arguments(m);
    marllb_py::init_observation_objects(m);
    m.attr("MAX_SERVERS") = MARLLB_MAX_AS;
    m.attr("ABI_VERSION") = MARLLB_ABI_VERSION;
    m.attr("RESERVOIR_CAPACITY") = MARLLB_RESERVOIR_CAPACITY;

    py::class_<Region>(m, "SharedMemoryRegion",
                       "One side of a region: the agent's (create=False, the seed's use) or the LB's (create=True).")
        .def(py::init<std::string, bool, bool, std::optional<std::string>, py::handle, bool>(),
             py::arg("name") = "marllb_lb0", py::arg("create") = false, py::arg("raw_reservoirs") = false,
             py::arg("dir") = py::none(), py::arg("num_servers") = py::none(), py::arg("group_shared") = false,
             "Attach as the agent (create=False), or open the region as its LB (create=True: created, or reopened\n"
             "as a restarting LB when a previous LB left it; raw_reservoirs adds that section, group_shared makes it\n"
             "mode 0660). num_servers: the LB's server count, which every action must match (LB side); on the agent\n"
             "side, the count the agent is built for (RegionError code 'server_count' if the LB declared another).\n"
             "NoRegionError if there is no region yet; RegionError (.code) for any other fault; ValueError for a name\n"
             "or dir containing NUL.")
        .def_property_readonly("num_servers", &Region::num_servers,
                               "The LB's declared server count (0: not declared; any count is then accepted).")
        .def_property_readonly("server_set_seq", &Region::server_set_seq,
                               "The first observation sequence id of the LB's current server set.")
        .def("set_servers", &Region::set_servers, py::arg("num_servers"),
             "LB side: announce a new server set (servers added or drained) before publishing its first observation.\n"
             "Actions answering older observations are then refused ('server_set'); the action in force is dropped.")
        .def_property_readonly("name", &Region::name)
        .def_property_readonly("role", &Region::role, "'agent', 'lb' or 'closed'")
        .def_property_readonly("last_sequence", &Region::last_sequence,
                               "Agent: the sequence id last returned by a read. LB: the last one published.")
        .def_property_readonly("published_sequence", &Region::published_sequence,
                               "Agent: the newest sequence id the LB published (one load).")
        .def_property_readonly("total_lost", &Region::total_lost,
                               "Agent: observations lost to wrap, counted by in-order reads, in total.")
        .def_property_readonly("pending_lost", &Region::pending_lost,
                               "Agent: lost observations counted but not yet reported in a 'lost' (they will be, with\n"
                               "the next observation read_next_observation returns).")
        .def("read_observation", &Region::read_observation,
             "The newest observation, if newer than the last one returned, as the seed's dict:\n"
             "{'sequence_id', 'timestamp' (s since the epoch), 'active_servers': [ids], 'server_stats':\n"
             "{id: {'n_flow_on', 'fct_mean', ... (FEATURE_NAMES)}}, 'num_active_servers', 'generation',\n"
             "'skipped' (published since the previous one returned, never returned), 'publish_mono_ns'}.\n"
             "None when nothing newer was published. The dict is the caller's: later reads never change\n"
             "anything a caller holds (they refill only server_stats dicts that no Python code can reach).")
        .def("read_observation_arrays", &Region::read_observation_arrays,
             "As read_observation, as numpy arrays over servers 0..n-1 (n = highest active + 1): 'n_flow_on'\n"
             "uint32 (n,), 'features' float32 (n, 10) in FEATURE_NAMES order, 'active' bool (n,), and the scalars.\n"
             "Fresh arrays the caller owns. None when nothing newer was published.")
        .def("read_next_observation", &Region::read_next_observation,
             "The next observation in sequence order, as the seed's dict plus 'lost': how many observations the\n"
             "LB overwrote before they could be read, since the previous one returned (exact: returned + lost ==\n"
             "published). None when nothing new was published.")
        .def("read_next_observation_arrays", &Region::read_next_observation_arrays,
             "As read_next_observation, as the numpy arrays of read_observation_arrays plus 'lost'.")
        .def("wait_observation", &Region::wait_observation, py::arg("after") = py::none(), py::arg("timeout") = 1.0,
             py::arg("arrays") = false,
             "Wait (GIL released) for an observation newer than both `after` and the last one returned, then\n"
             "return it as read_observation (arrays=False) or read_observation_arrays (arrays=True) does; None\n"
             "after `timeout` seconds (0..86400).")
        .def("read_reservoirs", &Region::read_reservoirs, py::arg("sequence_id") = py::none(), py::arg("out") = py::none(),
             "The raw reservoirs published with observation `sequence_id` (default: the last one returned), copied\n"
             "once into numpy memory and checked against the LB's writes (never torn, never another observation's):\n"
             "{'sequence_id', 'fct_values' float32 (64, 128), 'fct_timestamps' uint64 ns (64, 128),\n"
             "'duration_values', 'duration_timestamps', 'data' (the record of RESERVOIR_DTYPE they view)}.\n"
             "out: a record to reuse (np.zeros((), RESERVOIR_DTYPE)), saving the allocation. ReservoirsGone\n"
             "when the region no longer holds them, for good: overwritten (the LB keeps the last 2) or never\n"
             "published with that observation; RegionError if the region has none.")
        .def("write_action", &Region::write_action, py::arg("sequence_id"), py::arg("weights"),
             py::arg("num_servers") = py::none(),
             "Build the alias table from `weights` and write the action answering observation `sequence_id`.\n"
             "weights: 1..64 real numbers (list, tuple or 1-D numpy array), each finite, >= 0 and within float32,\n"
             "not all 0; num_servers (default len(weights)) must equal len(weights). Anything else raises\n"
             "ActionRejected (ActionTypeError for bools and non-numbers) naming the weight's index and the reason;\n"
             "nothing is written then. The LB's verdict follows: action_verdict().")
        .def("verdicts", &Region::verdicts,
             "What the LB reports about actions (may be a moment old): {'applied_action_seq',\n"
             "'applied_action_mono_ns', 'actions_applied', 'actions_rejected', 'actions_stale', 'last_rejected_seq',\n"
             "'last_reject_reason' (code or None), 'last_reject_message', 'generation', 'published_seq'}.")
        .def("action_verdict", &Region::action_verdict, py::arg("timeout") = 0.0,
             "The LB's verdict on the last action written through this object: {'sequence_id', 'status':\n"
             "'applied' | 'rejected' | 'stale' (valid, but not newer than the action in force) | 'pending' (not\n"
             "judged yet), 'reason' and 'message' (when rejected)}. With timeout > 0, waits (GIL released) up to\n"
             "that many seconds for a verdict.")
        .def("write_observation", &Region::write_observation, py::arg("n_flow_on"), py::arg("features") = py::none(),
             py::arg("reservoirs") = py::none(),
             "LB side: publish an observation of len(n_flow_on) servers (features: (n, 10) float32; reservoirs: a\n"
             "record of RESERVOIR_DTYPE); returns its sequence id.")
        .def("read_action", &Region::read_action, "LB side: poll, then the action in force (dict) or None")
        .def("heartbeat", &Region::heartbeat, "Stamp this side's heartbeat.")
        .def("peer_alive", &Region::peer_alive, py::arg("timeout") = 1.0,
             "Whether the other side stamped its heartbeat within `timeout` seconds (0 < timeout <= 86400).")
        .def("close", &Region::close)
        .def("unlink", &Region::unlink, "close, then remove the region file")
        .def("__enter__", [](Region &r) -> Region & { return r; })
        .def("__exit__", [](Region &r, py::args) { r.close(); });
}
