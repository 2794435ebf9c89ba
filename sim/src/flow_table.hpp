// The LB's flow table: 4-entry buckets (one pair of cache lines each), a per-entry idle
// timeout (40 s as MARLLB), no chaining: a SYN whose bucket holds four live flows gets no entry
// (the LB forwards it untracked). Owned by the LB lcore alone; nothing here is shared.
#pragma once

#include "frame.hpp"

#include <cstdint>
#include <memory>

namespace marllb::sim {

// free: never used. clean model: syn (not yet counted on), on. marllb model: live (valid until
// its deadline) or dead (evicted by RST|ACK: its flags, server and SYN time stay for the slot's
// next owner to read, as MARLLB's bucket keeps them, lbhash.h:182).
enum class FlowState : std::uint8_t { free = 0, syn = 1, on = 2, live = 3, dead = 4 };

struct FlowEntry {
    FlowKey key;                 // 12 bytes; marllb: {32-bit hash, VIP, 0, 0}
    FlowState state = FlowState::free;
    std::uint8_t server = 0;
    std::uint8_t tcp_flags = 0;  // marllb: the flags MARLLB's bucket keeps (its state)
    std::uint8_t reserved = 0;
    std::uint64_t syn_ns = 0;    // when the SYN was seen: FCT and duration are measured from it
    std::uint64_t last_ns = 0;   // last packet, for the idle timeout
};
static_assert(sizeof(FlowEntry) == 32);

inline constexpr unsigned kBucketEntries = 4;
struct alignas(64) FlowBucket {
    FlowEntry e[kBucketEntries];
};

[[nodiscard]] inline std::uint64_t flow_hash(const FlowKey &k) noexcept {
    std::uint64_t h = (std::uint64_t(k.src_ip) << 32 | k.dst_ip) * 0x9E3779B97F4A7C15ull;
    h ^= (std::uint64_t(k.src_port) << 16 | k.dst_port) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

class FlowTable {
public:
    explicit FlowTable(unsigned buckets_log2, std::uint64_t timeout_ns)
        : mask_((std::size_t(1) << buckets_log2) - 1), timeout_ns_(timeout_ns),
          buckets_(new FlowBucket[mask_ + 1]) {}

    [[nodiscard]] FlowBucket &bucket(std::uint64_t hash) noexcept { return buckets_[hash & mask_]; }
    [[nodiscard]] bool expired(const FlowEntry &e, std::uint64_t now) const noexcept {
        return now > e.last_ns && now - e.last_ns > timeout_ns_;
    }
    // The entry for key in its bucket, live or expired, or nullptr.
    [[nodiscard]] FlowEntry *find(FlowBucket &b, const FlowKey &key) noexcept {
        for (auto &e : b.e)
            if (e.state != FlowState::free && e.key == key) return &e;
        return nullptr;
    }
    // A free or expired entry of the bucket (the caller accounts for what it replaces), or nullptr.
    [[nodiscard]] FlowEntry *claim(FlowBucket &b, std::uint64_t now) noexcept {
        FlowEntry *expired_entry = nullptr;
        for (auto &e : b.e) {
            if (e.state == FlowState::free) return &e;
            if (!expired_entry && expired(e, now)) expired_entry = &e;
        }
        return expired_entry;
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return (mask_ + 1) * kBucketEntries; }
    [[nodiscard]] std::uint64_t timeout_ns() const noexcept { return timeout_ns_; }

private:
    std::size_t mask_;
    std::uint64_t timeout_ns_;
    std::unique_ptr<FlowBucket[]> buckets_;
};

} // namespace marllb::sim
