// Internal declarations shared by the core's translation units.
#pragma once

#include <optional>

#include <marllb/shm.hpp>

#include <cstdarg>
#include <string>

namespace marllb::shm::detail {

enum class Role { lb, agent };

// The C API's marllb_last_error(): this thread's sentence on its last failing call.
void set_last_error(std::string sentence) noexcept;

// Builds an Error whose message is printf-formatted.
[[nodiscard]] Error make_error(Errc code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Creates, zero-fills, pre-allocates and maps a new region under no name, then names it
// atomically (only if the name is free; with `replace`, over a half-made file the caller
// holds locked). The caller becomes its LB.
[[nodiscard]] Expected<Mapping> create_mapping(std::string_view name, const Options &opts,
                                               bool replace = false);

// LB side: if the file at `name` is what a creator killed mid-create left (empty, or magic 0)
// and nobody holds its LB lock, replaces it with a new region (out: the mapping, with a note
// that says so) and returns true. out may then also be E_NOTREADY (another LB got there
// first: try again). False: not a half-made region, nothing done.
[[nodiscard]] std::optional<Expected<Mapping>> replace_half_made(std::string_view name, const Options &opts);

// Opens an existing region for a role: validates it before mapping, takes the role's lock,
// maps the other role's section read-only.
[[nodiscard]] Expected<Mapping> open_mapping(std::string_view name, const Options &opts, Role role);

[[nodiscard]] Expected<std::string> region_path(std::string_view name, const Options &opts);

// Removes the temporary names (.NAME.creating.PID.N) that creators killed mid-replace left
// in the region's directory, of creators that are no live process. Returns how many.
unsigned remove_dead_creators(std::string_view name, const Options &opts) noexcept;

[[nodiscard]] std::uint64_t expected_region_size(std::uint32_t flags) noexcept;

// The two halves of validate_action's checks on the weights and the alias table (action.cpp),
// for tests: the exact checks, whose verdict is the LB's, and the fast path that answers OK
// in their place when it can vouch for it (it must never vouch for what they reject).
[[nodiscard]] RejectReason action_body_verdict(const MsgIn &a) noexcept;
// The fast path's copies: the x86-64 baseline's (SSE2), AVX2's where the CPU has it (false
// where it has not), or the one validate_action uses on this CPU.
enum class FastPath { baseline, avx2, chosen };
[[nodiscard]] bool action_fast_path_accepts(const MsgIn &a, FastPath which = FastPath::chosen) noexcept;
[[nodiscard]] bool action_fast_path_has_avx2() noexcept;

} // namespace marllb::shm::detail
