// Arguments from Python, checked before anything reaches the region: every refusal names the
// argument (and for weights the index), what it held and what is expected.
#pragma once

#include <marllb/shm.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace marllb_py {

// Once, at import: creates ActionRejected (a ValueError) and ActionTypeError (ActionRejected
// and TypeError) on the module. Both carry `.reason` (a short code, e.g. "weight_negative",
// the core's reason names for what the LB checks) and `.index` (the weight's index, or None).
void init_arguments(pybind11::module_ &m);

// Raises ActionRejected (or ActionTypeError if `type_error`) with the attributes above.
[[noreturn]] void raise_action(const std::string &message, const char *reason,
                               std::optional<std::size_t> index = std::nullopt, bool type_error = false);

// The short code of a core rejection reason ("seq_from_future", ...).
[[nodiscard]] const char *reason_code(marllb::shm::RejectReason r) noexcept;

// write_action's arguments as the core's message: sequence_id an int >= 0 (not a bool);
// weights a sequence or 1-D numpy array of 1..64 real numbers (no bools), each finite, >= 0 and
// within float32; num_servers (default len(weights)) an int in 1..64 equal to len(weights);
// not all weights 0. The alias table is not built here.
// declared: the LB's server count (0: not declared); another length is refused before writing.
[[nodiscard]] marllb::shm::MsgIn parse_action(std::uint32_t declared, pybind11::handle sequence_id, pybind11::handle weights,
                                              pybind11::handle num_servers);

// A number of seconds in [min_s, max_s] (min exclusive if `min_exclusive`), finite, not a bool;
// ValueError / TypeError naming `what` otherwise.
[[nodiscard]] double seconds_arg(pybind11::handle v, const char *what, double min_s, bool min_exclusive,
                                 double max_s);

// A sequence id from Python: an int >= 0, not a bool; TypeError / ValueError naming `what`.
[[nodiscard]] std::uint64_t sequence_arg(pybind11::handle v, const char *what);

// An observation's arguments from Python, for write_observation: n_flow_on, 1..64 counts in
// 0..2^32-1 (ints or an integer numpy array, not bools or floats), and the features, None or
// anything numpy reads as an (len(n_flow_on), 10) array of numbers (float32 in the region).
// TypeError / ValueError naming the argument (and for a count, its index) otherwise.
struct ObservationArgs {
    std::vector<std::uint32_t> n_flow_on;
    std::optional<pybind11::array_t<float, pybind11::array::c_style | pybind11::array::forcecast>> features;
};
[[nodiscard]] ObservationArgs parse_observation(pybind11::handle n_flow_on, pybind11::handle features);

// A region name or directory without NUL (the C side would silently cut it there).
void check_no_nul(const std::string &s, const char *what);

// The `dir` argument: None (nullopt: /dev/shm), or a str, bytes or path-like object
// (pathlib.Path) naming a directory, as os.fsencode gives it; not '' and without NUL.
// TypeError / ValueError naming what was passed otherwise.
[[nodiscard]] std::optional<std::string> directory_arg(pybind11::handle dir);

} // namespace marllb_py
