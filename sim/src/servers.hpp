// Simulated servers: capacity in cores, processor sharing among at most 32 active workers,
// a FIFO backlog of 128 connections, a reset for a connection that finds both full (the
// Apache setup of MARLLB's testbed). Owned by the world lcore alone.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include <marllb/shm.hpp>

namespace marllb::sim {

inline constexpr unsigned kMaxWorkers = 32, kBacklog = 128;

class PsServer {
public:
    // start_ns: when the server starts (its core-seconds count from there).
    explicit PsServer(double cores, std::uint64_t start_ns = 0) : cores_(cores), last_ns_(start_ns), cores_since_ns_(start_ns) {}

    // A new connection (its SYN reached the server): false = reset, both queues full.
    [[nodiscard]] bool admit() noexcept {
        if (admitted_ >= kMaxWorkers + kBacklog) return false;
        ++admitted_;
        ++admissions_;
        return true;
    }
    // From now on the server really has `cores` (a capacity event): the service attained so
    // far is kept, the rate of every job changes. The caller reschedules the next completion.
    void set_cores(double cores, std::uint64_t now) noexcept {
        advance(now);
        if (now > cores_since_ns_) had_core_s_ += cores_ * (double(now - cores_since_ns_) * 1e-9);
        cores_since_ns_ = std::max(now, cores_since_ns_);
        cores_ = cores;
        ++epoch_;
    }
    // The admitted connection's request arrives at now: work in core-seconds. Returns whether
    // a worker took it at once (false: it waits in the backlog).
    bool request(std::uint32_t flow, double work_s, std::uint64_t now) {
        advance(now);
        ++epoch_;
        if (active_.size() < kMaxWorkers) {
            active_.push({v_ + work_s, flow});
            return true;
        }
        backlog_.push_back({flow, work_s});
        return false;
    }
    // When the next job completes if nothing else arrives, or UINT64_MAX.
    [[nodiscard]] std::uint64_t next_completion() const noexcept {
        if (active_.empty()) return UINT64_MAX;
        const double dt = (active_.top().finish_v - v_) / rate();
        return last_ns_ + std::uint64_t(dt > 0 ? dt * 1e9 + 0.5 : 0);
    }
    // Completes the job due at now (call at next_completion()); returns its flow, and in
    // *started the flow a worker took from the backlog in its place (or UINT32_MAX).
    std::uint32_t complete(std::uint64_t now, std::uint32_t *started = nullptr) {
        advance(now);
        const std::uint32_t flow = active_.top().flow;
        active_.pop();
        --admitted_;
        std::uint32_t next = UINT32_MAX;
        if (!backlog_.empty()) {
            next = backlog_.front().flow;
            active_.push({v_ + backlog_.front().work_s, next});
            backlog_.pop_front();
        }
        if (started) *started = next;
        ++epoch_;
        return flow;
    }
    void advance(std::uint64_t now) noexcept {
        if (now <= last_ns_) return;
        const double dt = double(now - last_ns_) * 1e-9;
        if (!active_.empty()) {
            v_ += rate() * dt;
            busy_core_s_ += std::min(double(active_.size()), cores_) * dt;
        }
        last_ns_ = now;
    }
    [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; } // changes when next_completion may
    [[nodiscard]] double cores() const noexcept { return cores_; }
    [[nodiscard]] unsigned active() const noexcept { return unsigned(active_.size()); }
    [[nodiscard]] unsigned queued() const noexcept { return unsigned(backlog_.size()); }
    [[nodiscard]] double busy_core_seconds() const noexcept { return busy_core_s_; }
    // The core-seconds the server had from its start to now: cores x elapsed while its
    // capacity never changed.
    [[nodiscard]] double had_core_seconds(std::uint64_t now) const noexcept {
        return had_core_s_ + (now > cores_since_ns_ ? cores_ * (double(now - cores_since_ns_) * 1e-9) : 0);
    }
    [[nodiscard]] std::uint64_t admissions() const noexcept { return admissions_; } // connections admitted since the start

private:
    // Each active job is served at min(1, cores / n) cores.
    [[nodiscard]] double rate() const noexcept {
        return std::min(1.0, cores_ / double(active_.size()));
    }
    struct Job {
        double finish_v; // attained-service level at which it completes
        std::uint32_t flow;
        bool operator>(const Job &o) const noexcept { return finish_v > o.finish_v; }
    };
    struct Waiting {
        std::uint32_t flow;
        double work_s;
    };
    double cores_;
    double v_ = 0; // service attained by every active job since the start (PS: all equal)
    std::uint64_t last_ns_ = 0;
    double busy_core_s_ = 0;
    double had_core_s_ = 0;             // core-seconds up to cores_since_ns_
    std::uint64_t cores_since_ns_ = 0;  // the last capacity change (or the start)
    unsigned admitted_ = 0;
    std::uint64_t admissions_ = 0;
    std::uint64_t epoch_ = 0;
    std::priority_queue<Job, std::vector<Job>, std::greater<Job>> active_;
    std::deque<Waiting> backlog_;
};

// Server sets: "1,1,1,1,2,2,2", or a preset name: marllb7 = [1,1,1,1,2,2,2],
// marllb6 = [2,2,2,4,4,4], marllb24 = [2 x 12, 4 x 12]; "@file" reads the list from a file.
[[nodiscard]] shm::Expected<std::vector<double>> parse_server_set(std::string_view spec);

} // namespace marllb::sim
