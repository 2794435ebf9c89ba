// Fuzz target: actions of hostile bytes. Validation must never accept an action the data
// plane could misuse, and an alias table built from any accepted weights must validate.
//
// Input: 8 bytes of "newest published sequence", then the bytes of a msg_in_t (zero-padded).
#include <marllb/shm.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

using namespace marllb::shm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 8) return 0;
    std::uint64_t newest;
    std::memcpy(&newest, data, 8);
    MsgIn a{};
    std::memcpy(&a, data + 8, std::min(size - 8, sizeof a));

    if (validate_action(a, newest) == MARLLB_ACTION_OK) {
        const std::uint32_t n = a.num_servers;
        if (a.sequence_id == 0 || a.sequence_id > newest || n == 0 || n > MARLLB_MAX_AS) __builtin_trap();
        double sum = 0;
        for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
            if (!std::isfinite(a.weights[i]) || a.weights[i] < 0 || (i >= n && a.weights[i] != 0)) __builtin_trap();
            std::uint64_t entry;
            std::memcpy(&entry, &a.alias_table[i], 8);
            if (i >= n && entry != 0) __builtin_trap(); // entries beyond n: all bits 0
            sum += a.weights[i];
        }
        if (a.reserved != 0) __builtin_trap();
        if (!(sum > 0)) __builtin_trap();
        std::uint64_t rng = newest;
        for (int k = 0; k < 256; ++k) {
            const std::uint32_t s = marllb_alias_sample(a.alias_table, n, marllb_rand64(&rng));
            if (s >= n || a.weights[s] == 0) __builtin_trap(); // in range, never a zero weight
        }
    }
    // The builder on the same weights: accepted inputs give a table that validates.
    const std::uint32_t n = a.num_servers % (MARLLB_MAX_AS + 1);
    MsgIn built{};
    built.sequence_id = 1;
    built.num_servers = n;
    std::memcpy(built.weights, a.weights, n * sizeof(float));
    if (marllb_alias_build(built.weights, n, built.alias_table) == MARLLB_OK &&
        validate_action(built, 1) != MARLLB_ACTION_OK)
        __builtin_trap();
    return 0;
}
