// What counting IPC calls with BPF costs: a tight loop of msgsnd+msgrcv pairs and a loop of an
// unrelated cheap syscall (getppid: the tax on everything else), each without BPF, with ipctrail's
// programs attached (each attach mode, tracepoint, fentry and kprobe, with the namespace totals
// only and with the per-process counts and lifecycle events of docs/design.md §6; the counter is
// held by another process, as the agent would), and with bpftrace counting the same tracepoints
// by probe and by comm; side by side in one run. Configurations are interleaved round by round
// (each round starting one configuration later, so that none always runs first), and time is the
// thread's CPU time, so that other tasks on a shared machine disturb the comparison as little as
// they can. What a configuration adds per IPC call is paired within a round: its median run minus
// the median run without BPF of the same round, halved (a pair is two calls); the figure is the
// median of those over the rounds, and so are the ratios of issue 13's targets. The load average
// is printed at the start and the end. With `programs`, the kernel also times every run of a BPF
// program (BPF_ENABLE_STATS) and each ipctrail row prints its programs' own time per IPC call,
// without the tracing path around them: the per-process path's cost itself, steadier than the
// differences of whole calls (the timing adds two clock reads per program run to every row).
// Needs root. Usage: bpf_overhead [rounds] [programs]
#include <fmt/format.h>
#include <linux/bpf.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/ipc_call_counter.h"
#include "model/ipc_call_counts.h"

namespace {

using ipctrail::BpfMode;
using ipctrail::IpcCallCounter;

constexpr int kPairsPerRun = 20'000;
constexpr int kGetppidPerRun = 50'000;
constexpr int kRunsPerRound = 3;

double thread_cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// Nanoseconds per iteration of each run, over every round, kRunsPerRound per round in order.
struct Runs {
  std::vector<double> pair_ns;  // one msgsnd + one msgrcv
  std::vector<double> getppid_ns;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The median pair of each round.
std::vector<double> round_medians(const std::vector<double>& pair_ns) {
  std::vector<double> medians;
  for (std::size_t start = 0; start + kRunsPerRound <= pair_ns.size(); start += kRunsPerRound) {
    medians.push_back(
        median({pair_ns.begin() + static_cast<std::ptrdiff_t>(start),
                pair_ns.begin() + static_cast<std::ptrdiff_t>(start) + kRunsPerRound}));
  }
  return medians;
}

// What a configuration added per IPC call in each round, against no BPF in the same round.
std::vector<double> added_per_round(const Runs& with, const Runs& baseline) {
  std::vector<double> with_medians = round_medians(with.pair_ns);
  std::vector<double> base_medians = round_medians(baseline.pair_ns);
  std::vector<double> added;
  for (std::size_t round = 0; round < std::min(with_medians.size(), base_medians.size()); ++round) {
    added.push_back((with_medians[round] - base_medians[round]) / 2);
  }
  return added;
}

std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

template <typename Loop>
void time_runs(int iterations, std::vector<double>& into, Loop loop) {
  for (int run = 0; run < kRunsPerRound; ++run) {
    double start = thread_cpu_ns();
    for (int i = 0; i < iterations; ++i) loop();
    into.push_back((thread_cpu_ns() - start) / iterations);
  }
}

void measure(int msqid, Runs& runs) {
  struct {
    long type = 1;
    char text[8] = "ipctrai";
  } message;
  time_runs(kPairsPerRun, runs.pair_ns, [&] {
    if (::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT) != 0 ||
        ::msgrcv(msqid, &message, sizeof message.text, 0, IPC_NOWAIT) < 0) {
      std::perror("msgsnd/msgrcv");
      std::exit(1);
    }
  });
  time_runs(kGetppidPerRun, runs.getppid_ns, [] { ::syscall(SYS_getppid); });
}

// Noise only adds time, so the best run is the figure; the median shows the spread.
struct Figures {
  double pair_ns, pair_median_ns, getppid_ns, getppid_median_ns;
};

Figures figures_of(Runs runs) {
  std::sort(runs.pair_ns.begin(), runs.pair_ns.end());
  std::sort(runs.getppid_ns.begin(), runs.getppid_ns.end());
  return {runs.pair_ns.front(), runs.pair_ns[runs.pair_ns.size() / 2], runs.getppid_ns.front(),
          runs.getppid_ns[runs.getppid_ns.size() / 2]};
}

// bpftrace counting the same tracepoints as ipctrail: calls on entry, failures by errno on exit,
// keyed by probe (like ipctrail's totals) or by comm and probe (like its per-process counts).
std::string bpftrace_script(bool by_comm) {
  std::string enter, exit;
  for (std::string_view call : ipctrail::kIpcCallNames) {
    enter += fmt::format("{}tracepoint:syscalls:sys_enter_{}", enter.empty() ? "" : ",", call);
    exit += fmt::format("{}tracepoint:syscalls:sys_exit_{}", exit.empty() ? "" : ",", call);
  }
  std::string_view key = by_comm ? "comm, probe" : "probe";
  return fmt::format(
      "BEGIN {{ printf(\"ready\\n\"); }} {} {{ @calls[{}] = count(); }} {} /args->ret < 0/ "
      "{{ @failures[{}, -args->ret] = count(); }}",
      enter, key, exit, key);
}

// bpftrace's output, read line by line with a deadline: bpftrace has been seen never to print
// from BEGIN (or never to exit after SIGINT) on this loaded machine, and a benchmark must fail
// such a row, not hang.
struct Bpftrace {
  pid_t pid = -1;
  int output = -1;
  std::string unread;
};

constexpr auto kBpftraceDeadline = std::chrono::seconds(60);

// The next line of bpftrace's output; nullopt at its end or when `deadline` passed.
std::optional<std::string> next_line(Bpftrace& bpftrace,
                                     std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (std::size_t end = bpftrace.unread.find('\n'); end != std::string::npos) {
      std::string line = bpftrace.unread.substr(0, end);
      bpftrace.unread.erase(0, end + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{bpftrace.output, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
      return std::nullopt;
    }
    char buffer[4096];
    ssize_t got = ::read(bpftrace.output, buffer, sizeof buffer);
    if (got <= 0) return std::nullopt;
    bpftrace.unread.append(buffer, static_cast<std::size_t>(got));
  }
}

// Ends bpftrace for good (after a deadline passed) and reaps it.
void end_bpftrace(Bpftrace& bpftrace) {
  ::kill(bpftrace.pid, SIGKILL);
  ::waitpid(bpftrace.pid, nullptr, 0);
  ::close(bpftrace.output);
}

// Starts bpftrace and returns once it printed from BEGIN, i.e. after it attached its probes.
std::optional<Bpftrace> start_bpftrace(bool by_comm, std::string& failure) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return std::nullopt;
  std::string script = bpftrace_script(by_comm);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::execlp("bpftrace", "bpftrace", "-e", script.c_str(), nullptr);
    std::perror("bpftrace");
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  Bpftrace bpftrace{pid, pipe_fds[0], ""};
  auto deadline = std::chrono::steady_clock::now() + kBpftraceDeadline;
  while (auto line = next_line(bpftrace, deadline)) {
    if (line->starts_with("ready")) return bpftrace;
  }
  failure =
      "bpftrace did not report attaching (exited, or silent for 60 s; is the bpftrace package "
      "installed?)";
  end_bpftrace(bpftrace);
  return std::nullopt;
}

// The calls one round makes of each of msgsnd and msgrcv: what every configuration must count.
constexpr unsigned long long kCallsPerRound =
    static_cast<unsigned long long>(kPairsPerRun) * kRunsPerRound;

// Stops bpftrace; the reason when it did not count the round's msgsnd calls (it can start and
// print from BEGIN yet count nothing, e.g. after failing to raise RLIMIT_MEMLOCK): such a row
// must fail, never print figures.
std::optional<std::string> stop_bpftrace(Bpftrace& bpftrace) {
  ::kill(bpftrace.pid, SIGINT);
  unsigned long long msgsnd = 0;
  constexpr std::string_view kMsgsnd = "sys_enter_msgsnd]: ";
  auto deadline = std::chrono::steady_clock::now() + kBpftraceDeadline;
  while (auto line = next_line(bpftrace, deadline)) {
    std::size_t probe = line->find(kMsgsnd);
    if (line->starts_with("@calls[") && probe != std::string::npos) {
      msgsnd += std::strtoull(line->c_str() + probe + kMsgsnd.size(), nullptr, 10);
    }
  }
  end_bpftrace(bpftrace);
  if (msgsnd < kCallsPerRound) {
    return fmt::format("bpftrace counted {} of the {} msgsnd calls", msgsnd, kCallsPerRound);
  }
  return std::nullopt;
}

// The run time and runs of this process's BPF programs, from /proc/self/fdinfo (the kernel keeps
// them while BPF_ENABLE_STATS is on): {run_time_ns, run_cnt} summed.
std::pair<unsigned long long, unsigned long long> own_program_runs() {
  unsigned long long time_ns = 0, runs = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fdinfo")) {
    std::ifstream info(entry.path());
    for (std::string line; std::getline(info, line);) {
      if (line.starts_with("run_time_ns:"))
        time_ns += std::strtoull(line.c_str() + 12, nullptr, 10);
      if (line.starts_with("run_cnt:")) runs += std::strtoull(line.c_str() + 8, nullptr, 10);
    }
  }
  return {time_ns, runs};
}

// ipctrail's counter, opened by a process of its own as in the agent: the programs leave out the
// calls of the process that opened them, and the benchmark's own calls are the ones to count.
struct CounterProcess {
  pid_t pid;
  FILE* to_counter;
  FILE* from_counter;
};

// Returns once the child attached its programs, or null with the reason.
std::optional<CounterProcess> start_counter(BpfMode mode, bool per_process, std::string& failure) {
  int down[2];
  int up[2];
  if (::pipe(down) != 0 || ::pipe(up) != 0) {
    failure = std::strerror(errno);
    return std::nullopt;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    FILE* report = ::fdopen(up[1], "w");
    ipctrail::IpcCallCounterOpening opening =
        IpcCallCounter::open({.mode = mode, .per_process = per_process});
    if (!opening.counter) {
      std::fprintf(report, "%s\n", opening.failure.c_str());
      std::fflush(report);
      ::_exit(1);
    }
    std::fprintf(report, "ready\n");
    std::fflush(report);
    // What open() measured itself, as the agent logs it, beside the benchmark's own getppid runs.
    const ipctrail::SyscallTax& tax = opening.counter->syscall_tax();
    std::string measured_at_attach =
        fmt::format("  measured at attach: getppid {:.0f} ns -> {:.0f} ns ({:+.0f}%)\n",
                    tax.before_ns, tax.after_ns, 100 * tax.ratio());
    char stop = 0;
    (void)::read(down[0], &stop, 1);
    ipctrail::IpcCallCounts counted = opening.counter->read();
    std::fputs(measured_at_attach.c_str(), report);
    if (auto [time_ns, runs] = own_program_runs(); runs > 0) {
      std::fprintf(report, "  programs: %llu runs, %.1f ns per run, %.1f ns per IPC call\n", runs,
                   static_cast<double>(time_ns) / static_cast<double>(runs),
                   static_cast<double>(time_ns) / (2.0 * kCallsPerRound));
    }
    std::fprintf(report, "  counted %llu msgsnd and %llu msgrcv in the benchmark's namespace\n",
                 static_cast<unsigned long long>(counted.calls_of(ipctrail::IpcCall::kMsgsnd)),
                 static_cast<unsigned long long>(counted.calls_of(ipctrail::IpcCall::kMsgrcv)));
    if (per_process) {
      ipctrail::ProcessActivity processes = opening.counter->read_processes();
      std::uint64_t attributed = 0;
      for (const ipctrail::ProcessCallCount& count : processes.calls) attributed += count.count;
      std::fprintf(report, "  attributed %llu calls to processes, %llu not attributed\n",
                   static_cast<unsigned long long>(attributed),
                   static_cast<unsigned long long>(processes.calls_not_attributed));
    }
    std::fflush(report);
    ::_exit(0);
  }
  ::close(down[0]);
  ::close(up[1]);
  CounterProcess process{pid, ::fdopen(down[1], "w"), ::fdopen(up[0], "r")};
  char line[1024] = "the counter process exited\n";
  if (std::fgets(line, sizeof line, process.from_counter) != nullptr &&
      std::string_view(line).starts_with("ready")) {
    return process;
  }
  failure = std::string(line, std::strcspn(line, "\n"));
  std::fclose(process.to_counter);
  std::fclose(process.from_counter);
  ::waitpid(pid, nullptr, 0);
  return std::nullopt;
}

// Stops the counter; the reason when it did not count exactly the round's calls.
std::optional<std::string> stop_counter(CounterProcess& process, bool per_process) {
  std::fputc('x', process.to_counter);
  std::fclose(process.to_counter);
  char line[1024];
  unsigned long long msgsnd = 0, msgrcv = 0, attributed = 0;
  while (std::fgets(line, sizeof line, process.from_counter) != nullptr) {
    std::fputs(line, stdout);
    std::sscanf(line, "  counted %llu msgsnd and %llu msgrcv", &msgsnd, &msgrcv);
    std::sscanf(line, "  attributed %llu", &attributed);
  }
  std::fclose(process.from_counter);
  ::waitpid(process.pid, nullptr, 0);
  if (msgsnd != kCallsPerRound || msgrcv != kCallsPerRound ||
      (per_process && attributed != 2 * kCallsPerRound)) {
    return fmt::format("counted {} msgsnd, {} msgrcv, attributed {}: not the {} of each made",
                       msgsnd, msgrcv, attributed, kCallsPerRound);
  }
  return std::nullopt;
}

struct Row {
  std::string name;
  std::optional<Figures> figures;
  std::string unavailable;
  std::vector<double> added_by_round;  // ns per IPC call, paired with no BPF of each round
};

// One configuration: how to switch it on and off around a round of runs.
struct Configuration {
  std::string name;
  std::function<std::optional<std::string>()> start;  // the reason when it is unavailable
  std::function<std::optional<std::string>()> stop;   // the reason when it did not count
  Runs runs;
  std::string unavailable;
};

void print_table(const std::vector<Row>& rows, const Figures& baseline) {
  fmt::print("\n{:<26} {:>14} {:>13} {:>12} {:>13} {:>13} {:>10} {:>9}\n", "configuration",
             "pair ns (med)", "ns/IPC call", "added/call", "paired (med)", "getppid (med)",
             "added ns", "added %");
  for (const Row& row : rows) {
    if (!row.figures) {
      fmt::print("{:<26} unavailable: {}\n", row.name, row.unavailable);
      continue;
    }
    const Figures& f = *row.figures;
    double added_call = (f.pair_ns - baseline.pair_ns) / 2;
    double added_getppid = f.getppid_ns - baseline.getppid_ns;
    fmt::print(
        "{:<26} {:>6.0f} ({:>5.0f}) {:>13.1f} {:>12.1f} {:>13.1f} {:>6.0f} ({:>4.0f}) {:>10.1f} "
        "{:>8.1f}%\n",
        row.name, f.pair_ns, f.pair_median_ns, f.pair_ns / 2, added_call,
        row.added_by_round.empty() ? 0.0 : median(row.added_by_round), f.getppid_ns,
        f.getppid_median_ns, added_getppid, 100.0 * added_getppid / baseline.getppid_ns);
  }
}

// Issue 13's targets for the per-process counts and events: at most 1.2x what the totals alone
// add per IPC call, and at most half of what bpftrace counting by comm adds.
// Each ratio is taken per round (both sides paired with the same round's run without BPF), and
// the median of the rounds' ratios is the figure: a round where noise made a side negative has no
// ratio.
void print_who_targets(const std::vector<Row>& rows, BpfMode mode) {
  auto added = [&rows](const std::string& name) -> const std::vector<double>* {
    for (const Row& row : rows) {
      if (row.name == name && row.figures) return &row.added_by_round;
    }
    return nullptr;
  };
  auto ratio = [](const std::vector<double>& who, const std::vector<double>& other) {
    std::vector<double> ratios;
    std::string text;
    for (std::size_t round = 0; round < std::min(who.size(), other.size()); ++round) {
      if (who[round] <= 0 || other[round] <= 0) {
        text += " -";
        continue;
      }
      ratios.push_back(who[round] / other[round]);
      text += fmt::format(" {:.2f}", ratios.back());
    }
    if (ratios.empty()) return std::string("no ratio (noise: no round with both sides positive)");
    return fmt::format("median {:.2f} (rounds:{})", median(ratios), text);
  };
  std::string name = fmt::format("ipctrail {}", ipctrail::to_string(mode));
  const std::vector<double>* totals = added(name);
  const std::vector<double>* who = added(name + " + who");
  const std::vector<double>* bpftrace = added("bpftrace by comm, probe");
  if (!totals || !who) {
    fmt::print("who targets ({}): not measured (the rows are unavailable)\n",
               ipctrail::to_string(mode));
    return;
  }
  fmt::print(
      "who targets ({}): added {:.1f} ns/call (paired median) against {:.1f} for the totals "
      "alone; who / totals {} (target <= 1.2)\n",
      ipctrail::to_string(mode), median(*who), median(*totals), ratio(*who, *totals));
  if (bpftrace) {
    fmt::print("  against bpftrace by comm, {:.1f} ns/call: who / bpftrace {} (target <= 0.5)\n",
               median(*bpftrace), ratio(*who, *bpftrace));
  } else {
    fmt::print("  bpftrace by comm: unavailable, no comparison\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bpf_overhead needs root (it attaches BPF programs)\n");
    return 1;
  }
  // Held open for the whole run: the kernel times program runs while any such descriptor lives.
  if (argc > 2 && std::string_view(argv[2]) == "programs") {
    bpf_attr stats{};
    stats.enable_stats.type = BPF_STATS_RUN_TIME;
    if (::syscall(SYS_bpf, BPF_ENABLE_STATS, &stats, sizeof stats) < 0) {
      std::perror("BPF_ENABLE_STATS");
      return 1;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  // A private IPC namespace for the queue; one CPU so runs do not migrate mid-loop.
  if (::unshare(CLONE_NEWIPC) != 0) std::perror("unshare(CLONE_NEWIPC)");
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(static_cast<int>(::sched_getcpu()), &cpus);
  ::sched_setaffinity(0, sizeof cpus, &cpus);
  int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (msqid < 0) {
    std::perror("msgget");
    return 1;
  }

  std::optional<CounterProcess> counter;
  std::optional<Bpftrace> bpftrace;
  auto ipctrail_in = [&](BpfMode mode, bool per_process) {
    return Configuration{
        fmt::format("ipctrail {}{}", ipctrail::to_string(mode), per_process ? " + who" : ""),
        [&counter, mode, per_process]() -> std::optional<std::string> {
          std::string failure;
          counter = start_counter(mode, per_process, failure);
          if (!counter) return failure;
          return std::nullopt;
        },
        [&counter, per_process] {
          auto failure = stop_counter(*counter, per_process);
          counter.reset();
          return failure;
        },
        {},
        ""};
  };
  auto bpftrace_by = [&](bool by_comm) {
    return Configuration{by_comm ? "bpftrace by comm, probe" : "bpftrace by probe",
                         [&bpftrace, by_comm]() -> std::optional<std::string> {
                           std::string failure;
                           bpftrace = start_bpftrace(by_comm, failure);
                           if (!bpftrace) return failure;
                           return std::nullopt;
                         },
                         [&bpftrace] {
                           auto failure = stop_bpftrace(*bpftrace);
                           bpftrace.reset();
                           return failure;
                         },
                         {},
                         ""};
  };
  std::vector<Configuration> configurations;
  auto nothing = [] { return std::optional<std::string>(); };
  configurations.push_back({"no BPF", nothing, nothing, {}, ""});
  configurations.push_back(ipctrail_in(BpfMode::kTracepoint, false));
  configurations.push_back(ipctrail_in(BpfMode::kTracepoint, true));
  configurations.push_back(ipctrail_in(BpfMode::kFentry, false));
  configurations.push_back(ipctrail_in(BpfMode::kFentry, true));
  configurations.push_back(ipctrail_in(BpfMode::kKprobe, false));
  configurations.push_back(ipctrail_in(BpfMode::kKprobe, true));
  configurations.push_back(bpftrace_by(false));
  configurations.push_back(bpftrace_by(true));

  fmt::print(
      "bpf_overhead: {} rounds; each round runs every configuration {} times: {} "
      "msgsnd+msgrcv pairs and {} getppid per run, timed in thread CPU time; load average {}\n",
      rounds, kRunsPerRound, kPairsPerRun, kGetppidPerRun, load_average());
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t index = 0; index < configurations.size(); ++index) {
      Configuration& configuration =
          configurations[(index + static_cast<std::size_t>(round)) % configurations.size()];
      if (!configuration.unavailable.empty()) continue;
      fmt::print("round {}: {}\n", round + 1, configuration.name);
      std::fflush(stdout);
      if (auto reason = configuration.start()) {
        configuration.unavailable = *reason;
        continue;
      }
      measure(msqid, configuration.runs);
      if (auto failure = configuration.stop()) {
        fmt::print("  FAILED: {}\n", *failure);
        configuration.unavailable = *failure;
      }
    }
  }

  std::vector<Row> rows;
  for (const Configuration& configuration : configurations) {
    if (configuration.unavailable.empty()) {
      rows.push_back({configuration.name, figures_of(configuration.runs), "",
                      added_per_round(configuration.runs, configurations.front().runs)});
    } else {
      rows.push_back({configuration.name, std::nullopt, configuration.unavailable, {}});
    }
  }
  print_table(rows, *rows.front().figures);
  fmt::print(
      "\ntargets: <= 40 ns added per IPC call, <= 2% added to getppid, no worse than "
      "bpftrace\n");
  for (BpfMode mode : {BpfMode::kTracepoint, BpfMode::kFentry, BpfMode::kKprobe}) {
    print_who_targets(rows, mode);
  }
  fmt::print("load average at the end: {}\n", load_average());
  ::msgctl(msqid, IPC_RMID, nullptr);
  return 0;
}
