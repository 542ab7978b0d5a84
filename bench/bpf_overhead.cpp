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
// median of those over the rounds, and so are the ratios of issue 13's targets, printed with their
// interquartile range and the ratio of the two medians. Beside the whole call, the part beyond the
// syscall tracing path: what the IPC call added less what getppid added in the same round (other
// tests on a shared host attach syscall tracepoints at random, so "no BPF" sometimes already pays
// the path). The load average is printed at the start and the end. With `programs`, the kernel
// also times every run of a BPF program (BPF_ENABLE_STATS), and each row prints how many of its
// programs run per IPC call and their own work per call: their time less, for every run, what
// the kernel's timer gives a program that does nothing (measured in the same run). The timer
// costs about 50 ns per run here, so without that floor taken off a configuration with two
// programs per call looks as if it did twice the work. The timer is in every whole call of such
// a run too: compare whole calls from runs without `programs`.
// Needs root. Usage: bpf_overhead [rounds] [programs]
#include <fmt/format.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
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

#include "bench/bench_support.h"
#include "bpf/ipc_call_counter.h"
#include "model/ipc_call_counts.h"

namespace {

using ipctrail::BpfMode;
using ipctrail::IpcCallCounter;

constexpr int kPairsPerRun = 20'000;
constexpr int kGetppidPerRun = 50'000;
constexpr int kRunsPerRound = 9;

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

// The value at quantile q (0..1) of `values`, the nearest rank.
double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5)];
}

// The median run of each round.
std::vector<double> round_medians(const std::vector<double>& run_ns) {
  std::vector<double> medians;
  for (std::size_t start = 0; start + kRunsPerRound <= run_ns.size(); start += kRunsPerRound) {
    medians.push_back(
        median({run_ns.begin() + static_cast<std::ptrdiff_t>(start),
                run_ns.begin() + static_cast<std::ptrdiff_t>(start) + kRunsPerRound}));
  }
  return medians;
}

// What a configuration added in each round, against no BPF in the same round, per IPC call
// (`per_ipc_call`: a pair is two calls) or per getppid.
std::vector<double> added_per_round(const std::vector<double>& with_ns,
                                    const std::vector<double>& baseline_ns, bool per_ipc_call) {
  std::vector<double> with_medians = round_medians(with_ns);
  std::vector<double> base_medians = round_medians(baseline_ns);
  std::vector<double> added;
  for (std::size_t round = 0; round < std::min(with_medians.size(), base_medians.size()); ++round) {
    added.push_back((with_medians[round] - base_medians[round]) / (per_ipc_call ? 2 : 1));
  }
  return added;
}

// What an IPC call paid beyond the syscall tracing path, per round: its added cost minus what an
// unrelated getppid of the same round added (with any syscall tracepoint attached every syscall
// takes the same slow path; what is left is the dispatch to this configuration's programs and
// their work).
std::vector<double> beyond_path(const std::vector<double>& added_call,
                                const std::vector<double>& added_getppid) {
  std::vector<double> beyond;
  for (std::size_t round = 0; round < std::min(added_call.size(), added_getppid.size()); ++round) {
    beyond.push_back(added_call[round] - added_getppid[round]);
  }
  return beyond;
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

// Thin wrappers of the bpf(2) commands the program statistics need (the benchmark does not link
// libbpf: only bpf/ does).
long bpf_command(bpf_cmd command, bpf_attr& attr) {
  return ::syscall(SYS_bpf, command, &attr, sizeof attr);
}

// The kernel's description of a program (its name, run_time_ns and run_cnt), or nullopt.
std::optional<bpf_prog_info> program_info(int program) {
  bpf_prog_info info{};
  bpf_attr attr{};
  attr.info.bpf_fd = static_cast<std::uint32_t>(program);
  attr.info.info_len = sizeof info;
  attr.info.info = reinterpret_cast<std::uintptr_t>(&info);
  if (bpf_command(BPF_OBJ_GET_INFO_BY_FD, attr) != 0) return std::nullopt;
  return info;
}

// What BPF programs did while the kernel timed them (BPF_ENABLE_STATS).
struct ProgramRuns {
  unsigned long long time_ns = 0;
  unsigned long long runs = 0;
  ProgramRuns& operator+=(const ProgramRuns& other) {
    time_ns += other.time_ns;
    runs += other.runs;
    return *this;
  }
};

// The runs so far of the msgsnd and msgrcv programs a process holds (ipctrail's tp_*_msgsnd,
// bpftrace's sys_enter_msgsn...: names are cut at 15 characters), found through the program ids
// in its /proc/<pid>/fdinfo, each once (a program's link names it too). Another task's msgsnd or
// msgrcv anywhere on the host runs them too.
ProgramRuns message_program_runs(pid_t process) {
  ProgramRuns total;
  std::vector<std::uint32_t> seen;
  std::string directory = fmt::format("/proc/{}/fdinfo", process);
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    std::ifstream fdinfo(entry.path());
    for (std::string line; std::getline(fdinfo, line);) {
      if (!line.starts_with("prog_id:")) continue;
      bpf_attr attr{};
      attr.prog_id = static_cast<std::uint32_t>(std::strtoul(line.c_str() + 8, nullptr, 10));
      if (std::find(seen.begin(), seen.end(), attr.prog_id) != seen.end()) continue;
      seen.push_back(attr.prog_id);
      int program = static_cast<int>(bpf_command(BPF_PROG_GET_FD_BY_ID, attr));
      if (program < 0) continue;
      std::optional<bpf_prog_info> info = program_info(program);
      ::close(program);
      std::string_view name = info ? info->name : "";
      if (name.find("msgsn") != std::string_view::npos ||
          name.find("msgrc") != std::string_view::npos) {
        total += {info->run_time_ns, info->run_cnt};
      }
    }
  }
  return total;
}

// What the kernel's timer adds to every program run it times (two clock reads; about 75 ns on
// the development VM): the time per run of a program that does nothing (`return 0`), attached to
// sys_enter_getppid for 200,000 calls. Subtracted from each row's programs, it leaves their own
// work. nullopt with the reason printed when it cannot be measured.
std::optional<double> timer_floor_ns() {
  bpf_insn nothing[2]{};
  nothing[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  nothing[1].code = BPF_JMP | BPF_EXIT;
  static const char kLicense[] = "GPL";
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  load.insns = reinterpret_cast<std::uintptr_t>(nothing);
  load.insn_cnt = 2;
  load.license = reinterpret_cast<std::uintptr_t>(kLicense);
  int program = static_cast<int>(bpf_command(BPF_PROG_LOAD, load));
  std::ifstream id_file("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id");
  unsigned long long id = 0;
  id_file >> id;
  if (program < 0 || id == 0) {
    std::fprintf(stderr, "timer floor: cannot load or find sys_enter_getppid (tracefs?)\n");
    if (program >= 0) ::close(program);
    return std::nullopt;
  }
  perf_event_attr event{};
  event.type = PERF_TYPE_TRACEPOINT;
  event.size = sizeof event;
  event.config = id;
  event.sample_period = 1;
  event.wakeup_events = 1;
  int perf = static_cast<int>(::syscall(SYS_perf_event_open, &event, -1, 0, -1, 0));
  std::optional<double> floor;
  if (perf >= 0 && ::ioctl(perf, PERF_EVENT_IOC_SET_BPF, program) == 0 &&
      ::ioctl(perf, PERF_EVENT_IOC_ENABLE, 0) == 0) {
    for (int call = 0; call < 200'000; ++call) ::syscall(SYS_getppid);
    std::optional<bpf_prog_info> info = program_info(program);
    if (info && info->run_cnt > 0) {
      floor = static_cast<double>(info->run_time_ns) / static_cast<double>(info->run_cnt);
    }
  }
  if (!floor) std::perror("timer floor: attaching an empty program to sys_enter_getppid");
  if (perf >= 0) ::close(perf);
  ::close(program);
  return floor;
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
    std::fprintf(report, "  counted %llu msgsnd and %llu msgrcv in the benchmark's namespace\n",
                 static_cast<unsigned long long>(counted.calls_of(ipctrail::IpcCall::kMsgsnd)),
                 static_cast<unsigned long long>(counted.calls_of(ipctrail::IpcCall::kMsgrcv)));
    if (per_process) {
      // Only the benchmark's own calls: another agent on the host (a test's, with `namespaces:
      // all`) samples every IPC namespace, this one too, and its semctl/msgctl calls count here.
      ipctrail::ProcessActivity processes = opening.counter->read_processes();
      std::uint64_t attributed = 0;
      for (const ipctrail::ProcessCallCount& count : processes.calls) {
        if (count.process.tgid == ::getppid()) attributed += count.count;
      }
      std::fprintf(report,
                   "  attributed %llu calls to the benchmark's process, %llu not attributed\n",
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
  std::vector<double> added_by_round;        // ns per IPC call, paired with no BPF of each round
  std::vector<double> beyond_path_by_round;  // the same minus what getppid added in the round
  ProgramRuns programs;                      // with `programs`: its msgsnd/msgrcv programs' runs
  unsigned long long ipc_calls = 0;          // msgsnd and msgrcv calls timed
};

// One configuration: how to switch it on and off around a round of runs.
struct Configuration {
  std::string name;
  std::function<std::optional<std::string>()> start;  // the reason when it is unavailable
  std::function<std::optional<std::string>()> stop;   // the reason when it did not count
  std::function<pid_t()> holder;  // the process holding its BPF programs, -1 for none
  Runs runs;
  std::string unavailable;
  ProgramRuns programs;
};

void print_table(const std::vector<Row>& rows, const Figures& baseline) {
  fmt::print("\n{:<26} {:>14} {:>13} {:>12} {:>13} {:>12} {:>13} {:>10} {:>9}\n", "configuration",
             "pair ns (med)", "ns/IPC call", "added/call", "paired (med)", "beyond path",
             "getppid (med)", "added ns", "added %");
  for (const Row& row : rows) {
    if (!row.figures) {
      fmt::print("{:<26} unavailable: {}\n", row.name, row.unavailable);
      continue;
    }
    const Figures& f = *row.figures;
    double added_call = (f.pair_ns - baseline.pair_ns) / 2;
    double added_getppid = f.getppid_ns - baseline.getppid_ns;
    fmt::print(
        "{:<26} {:>6.0f} ({:>5.0f}) {:>13.1f} {:>12.1f} {:>13.1f} {:>12.1f} {:>6.0f} ({:>4.0f}) "
        "{:>10.1f} {:>8.1f}%\n",
        row.name, f.pair_ns, f.pair_median_ns, f.pair_ns / 2, added_call,
        row.added_by_round.empty() ? 0.0 : median(row.added_by_round),
        row.beyond_path_by_round.empty() ? 0.0 : median(row.beyond_path_by_round), f.getppid_ns,
        f.getppid_median_ns, added_getppid, 100.0 * added_getppid / baseline.getppid_ns);
  }
}

// With `programs`: the kernel's own count and time of each row's msgsnd/msgrcv program runs.
// Programs per IPC call is runs / calls; the programs' own work per call is their time less the
// timer's floor for every run (the timer's cost is per run, so without taking it off a
// configuration with two programs per call looks as if it did twice the work).
void print_programs(const std::vector<Row>& rows, std::optional<double> floor_ns) {
  fmt::print("\nprograms (BPF_ENABLE_STATS; timer floor {} ns per run, an empty program):\n",
             floor_ns ? fmt::format("{:.1f}", *floor_ns) : std::string("unmeasured"));
  fmt::print("{:<26} {:>17} {:>13} {:>17} {:>19}\n", "configuration", "programs/IPC call",
             "ns per run", "timed ns/call", "own work ns/call");
  for (const Row& row : rows) {
    if (!row.figures || row.programs.runs == 0 || row.ipc_calls == 0) continue;
    double runs = static_cast<double>(row.programs.runs);
    double calls = static_cast<double>(row.ipc_calls);
    double time = static_cast<double>(row.programs.time_ns);
    fmt::print("{:<26} {:>17.2f} {:>13.1f} {:>17.1f} {:>19}\n", row.name, runs / calls, time / runs,
               time / calls,
               floor_ns ? fmt::format("{:.1f}", (time - runs * *floor_ns) / calls) : "-");
  }
}

// A ratio of two configurations' per-round figures: the median of the rounds' ratios with their
// interquartile range, each round's, and the ratio of the two medians (steadier where a noisy
// round makes a small denominator). A round where noise made a side negative has no ratio.
std::string ratio_text(const std::vector<double>& numerator,
                       const std::vector<double>& denominator) {
  std::vector<double> ratios;
  std::string rounds;
  for (std::size_t round = 0; round < std::min(numerator.size(), denominator.size()); ++round) {
    if (numerator[round] <= 0 || denominator[round] <= 0) {
      rounds += " -";
      continue;
    }
    ratios.push_back(numerator[round] / denominator[round]);
    rounds += fmt::format(" {:.2f}", ratios.back());
  }
  if (ratios.empty()) return "no ratio (noise: no round with both sides positive)";
  return fmt::format("median {:.2f}, IQR {:.2f}-{:.2f}, ratio of medians {:.2f} (rounds:{})",
                     median(ratios), quantile(ratios, 0.25), quantile(ratios, 0.75),
                     median(numerator) / median(denominator), rounds);
}

// Issue 13's targets for the per-process counts and events: at most 1.2x what the totals alone
// add per IPC call, and at most half of what bpftrace counting by comm adds. Each ratio is taken
// per round (both sides paired with the same round's run without BPF): on the whole call, on the
// part beyond the syscall tracing path, and (with `programs`) on the programs' own work.
void print_who_targets(const std::vector<Row>& rows, BpfMode mode, std::optional<double> floor_ns) {
  auto row_named = [&rows](const std::string& name) -> const Row* {
    for (const Row& row : rows) {
      if (row.name == name && row.figures) return &row;
    }
    return nullptr;
  };
  std::string name = fmt::format("ipctrail {}", ipctrail::to_string(mode));
  const Row* totals = row_named(name);
  const Row* who = row_named(name + " + who");
  const Row* bpftrace = row_named("bpftrace by comm, probe");
  if (!totals || !who) {
    fmt::print("who targets ({}): not measured (the rows are unavailable)\n",
               ipctrail::to_string(mode));
    return;
  }
  auto own_work = [floor_ns](const Row& row) -> std::optional<double> {
    if (!floor_ns || row.programs.runs == 0 || row.ipc_calls == 0) return std::nullopt;
    return (static_cast<double>(row.programs.time_ns) -
            static_cast<double>(row.programs.runs) * *floor_ns) /
           static_cast<double>(row.ipc_calls);
  };
  fmt::print("who targets ({}), who / totals (target <= 1.2):\n", ipctrail::to_string(mode));
  fmt::print("  whole call: {:.1f} against {:.1f} ns/call added; {}\n", median(who->added_by_round),
             median(totals->added_by_round),
             ratio_text(who->added_by_round, totals->added_by_round));
  fmt::print("  beyond the tracing path: {:.1f} against {:.1f} ns/call; {}\n",
             median(who->beyond_path_by_round), median(totals->beyond_path_by_round),
             ratio_text(who->beyond_path_by_round, totals->beyond_path_by_round));
  if (own_work(*who) && own_work(*totals)) {
    fmt::print("  programs' own work: {:.1f} against {:.1f} ns/call; {:.2f}\n", *own_work(*who),
               *own_work(*totals), *own_work(*who) / *own_work(*totals));
  }
  if (!bpftrace) {
    fmt::print("  bpftrace by comm: unavailable, no comparison\n");
    return;
  }
  fmt::print(
      "who / bpftrace by comm (target <= 0.5; the same sys_enter/sys_exit tracepoints and calls: "
      "bpftrace counts @calls[comm, probe] at the entry and @failures[comm, probe, errno] at the "
      "exit, 2 programs a call; ipctrail counts the whole call at the exit under (tgid, comm, "
      "cgroup, call, outcome), 1 program):\n");
  fmt::print("  whole call: {:.1f} against {:.1f} ns/call added; {}\n", median(who->added_by_round),
             median(bpftrace->added_by_round),
             ratio_text(who->added_by_round, bpftrace->added_by_round));
  fmt::print("  beyond the tracing path: {:.1f} against {:.1f} ns/call; {}\n",
             median(who->beyond_path_by_round), median(bpftrace->beyond_path_by_round),
             ratio_text(who->beyond_path_by_round, bpftrace->beyond_path_by_round));
  if (own_work(*who) && own_work(*bpftrace)) {
    fmt::print("  programs' own work: {:.1f} against {:.1f} ns/call; {:.2f}\n", *own_work(*who),
               *own_work(*bpftrace), *own_work(*who) / *own_work(*bpftrace));
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
  bool timing_programs = argc > 2 && std::string_view(argv[2]) == "programs";
  if (timing_programs) {
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
        [&counter] { return counter->pid; },
        {},
        "",
        {}};
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
                         [&bpftrace] { return bpftrace->pid; },
                         {},
                         "",
                         {}};
  };
  std::vector<Configuration> configurations;
  auto nothing = [] { return std::optional<std::string>(); };
  configurations.push_back({"no BPF", nothing, nothing, [] { return pid_t{-1}; }, {}, "", {}});
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
      rounds, kRunsPerRound, kPairsPerRun, kGetppidPerRun, ipctrail::bench::load_average());
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
      pid_t holder = configuration.holder();
      ProgramRuns before =
          timing_programs && holder > 0 ? message_program_runs(holder) : ProgramRuns{};
      measure(msqid, configuration.runs);
      if (timing_programs && holder > 0) {
        ProgramRuns after = message_program_runs(holder);
        configuration.programs += {after.time_ns - before.time_ns, after.runs - before.runs};
      }
      if (auto failure = configuration.stop()) {
        fmt::print("  FAILED: {}\n", *failure);
        configuration.unavailable = *failure;
      }
    }
  }

  std::optional<double> floor_ns = timing_programs ? timer_floor_ns() : std::nullopt;
  const Runs& baseline = configurations.front().runs;
  std::vector<Row> rows;
  for (const Configuration& configuration : configurations) {
    if (!configuration.unavailable.empty()) {
      rows.push_back({configuration.name, std::nullopt, configuration.unavailable, {}, {}, {}, 0});
      continue;
    }
    std::vector<double> added_call =
        added_per_round(configuration.runs.pair_ns, baseline.pair_ns, true);
    std::vector<double> added_getppid =
        added_per_round(configuration.runs.getppid_ns, baseline.getppid_ns, false);
    rows.push_back({configuration.name, figures_of(configuration.runs), "", added_call,
                    beyond_path(added_call, added_getppid), configuration.programs,
                    2 * kPairsPerRun * configuration.runs.pair_ns.size()});
  }
  print_table(rows, *rows.front().figures);
  if (timing_programs) print_programs(rows, floor_ns);
  fmt::print(
      "\ntargets: <= 40 ns added per IPC call, <= 2% added to getppid, no worse than "
      "bpftrace\n");
  for (BpfMode mode : {BpfMode::kTracepoint, BpfMode::kFentry, BpfMode::kKprobe}) {
    print_who_targets(rows, mode, floor_ns);
  }
  fmt::print("load average at the end: {}\n", ipctrail::bench::load_average());
  ::msgctl(msqid, IPC_RMID, nullptr);
  return 0;
}
