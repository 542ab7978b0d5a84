#include "agent/collect/sysvipc_parse.h"

#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

namespace ipctrail {

namespace {

// The widest table (shm) has 16 columns; room to spare for columns a future kernel adds.
constexpr std::size_t kMaxColumns = 32;

struct Fields {
  std::array<std::string_view, kMaxColumns> items;
  std::size_t count = 0;
  bool overflow = false;
};

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Any control byte but the newline separates fields, so no byte can stall the row scanner.
bool is_separator(char c) {
  return static_cast<unsigned char>(c) <= ' ' && c != '\n';
}

// Most of a row is the padding that right-aligns its columns: skip it eight spaces at a time.
const char* skip_padding(const char* cursor, const char* end) {
  constexpr std::uint64_t kEightSpaces = 0x2020202020202020ull;
  std::uint64_t word = 0;
  while (end - cursor >= 8 && (std::memcpy(&word, cursor, 8), word == kEightSpaces)) cursor += 8;
  return cursor;
}

bool has_field(std::string_view text) {
  for (char c : text) {
    if (!is_blank(c)) return true;
  }
  return false;
}

void split_fields(std::string_view line, Fields& fields) {
  fields.count = 0;
  fields.overflow = false;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i == line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    if (fields.count == kMaxColumns) {
      fields.overflow = true;
      return;
    }
    fields.items[fields.count++] = line.substr(start, i - start);
  }
}

template <typename Int>
bool parse_int(std::string_view text, Int& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// Walks the rows of a sysvipc table, handing each complete, well-shaped row to `row`. `row`
// returns false when a field does not parse, which counts the row as skipped.
class Table {
 public:
  explicit Table(std::string_view text) : text_(text) {}

  // Finds the index of each wanted column in the header; false if the header lacks one.
  template <std::size_t N>
  bool locate(const std::array<std::string_view, N>& wanted, std::array<std::size_t, N>& index) {
    std::size_t end = text_.find('\n');
    if (end == std::string_view::npos) return false;
    split_fields(text_.substr(0, end), header_);
    if (header_.overflow) return false;
    for (std::size_t w = 0; w < N; ++w) {
      bool found = false;
      for (std::size_t c = 0; c < header_.count && !found; ++c) {
        if (header_.items[c] == wanted[w]) {
          index[w] = c;
          found = true;
        }
      }
      if (!found) return false;
    }
    position_ = end + 1;
    return true;
  }

  // One pass over the rows, splitting fields while looking for each row's end: the tables run
  // to megabytes on a host with tens of thousands of objects. Rows before the last newline are
  // known to end in '\n', which stops every inner loop without a bounds check.
  template <typename RowFn>
  std::uint64_t for_each_row(RowFn&& row) {
    std::uint64_t skipped = 0;
    std::string_view rows = text_.substr(position_);
    std::size_t last_newline = rows.rfind('\n');
    std::string_view complete = last_newline == std::string_view::npos
                                    ? std::string_view()
                                    : rows.substr(0, last_newline + 1);
    // Bytes after the last newline are a row the file cut short.
    if (complete.size() != rows.size() && has_field(rows.substr(complete.size()))) ++skipped;

    Fields fields;
    const char* cursor = complete.data();
    const char* const end = cursor + complete.size();
    while (cursor < end) {
      fields.count = 0;
      fields.overflow = false;
      for (;;) {
        cursor = skip_padding(cursor, end);
        while (is_separator(*cursor)) ++cursor;
        if (*cursor == '\n') break;
        const char* start = cursor;
        while (!is_separator(*cursor) && *cursor != '\n') ++cursor;
        if (fields.count == kMaxColumns) {
          fields.overflow = true;
        } else {
          fields.items[fields.count++] =
              std::string_view(start, static_cast<std::size_t>(cursor - start));
        }
      }
      ++cursor;                         // past the newline
      if (fields.count == 0) continue;  // blank line
      if (fields.overflow || fields.count != header_.count || !row(fields.items)) ++skipped;
    }
    return skipped;
  }

 private:
  std::string_view text_;
  Fields header_;
  std::size_t position_ = 0;
};

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
}

void add_segment(SharedMemoryTotals& totals, std::uint64_t size, std::uint64_t page_size) {
  ++totals.segments;
  totals.bytes = saturating_add(totals.bytes, size);
  totals.pages = saturating_add(totals.pages, size / page_size + (size % page_size != 0));
}

void add_array(SemaphoreTotals& totals, std::uint64_t nsems) {
  ++totals.arrays;
  totals.semaphores = saturating_add(totals.semaphores, nsems);
}

template <auto Member>
bool set_field(std::string_view text, IpcObject& object) {
  return parse_int(text, object.*Member);
}

bool set_mode(std::string_view text, IpcObject& object) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), object.mode, 8);
  return error == std::errc() && end == text.data() + text.size();
}

// One column of an object table: its header name and what stores its value. The store is part of
// the type, so that a row's fields are stored without a call through a pointer per field.
template <bool (*Store)(std::string_view, IpcObject&)>
struct ObjectColumn {
  static constexpr auto store = Store;
  std::string_view name;
};
template <auto Member>
using Field = ObjectColumn<set_field<Member>>;
using Mode = ObjectColumn<set_mode>;

// The columns of each table (docs/design.md §2), located by name in the header.
constexpr std::tuple kSemColumns{
    Field<&IpcObject::key>{"key"},
    Field<&IpcObject::id>{"semid"},
    Mode{"perms"},
    Field<&IpcObject::size>{"nsems"},
    Field<&IpcObject::uid>{"uid"},
    Field<&IpcObject::gid>{"gid"},
    Field<&IpcObject::cuid>{"cuid"},
    Field<&IpcObject::cgid>{"cgid"},
    Field<&IpcObject::otime>{"otime"},
    Field<&IpcObject::ctime>{"ctime"},
};
constexpr std::tuple kMsgColumns{
    Field<&IpcObject::key>{"key"},
    Field<&IpcObject::id>{"msqid"},
    Mode{"perms"},
    Field<&IpcObject::cbytes>{"cbytes"},
    Field<&IpcObject::qnum>{"qnum"},
    Field<&IpcObject::lspid>{"lspid"},
    Field<&IpcObject::lrpid>{"lrpid"},
    Field<&IpcObject::uid>{"uid"},
    Field<&IpcObject::gid>{"gid"},
    Field<&IpcObject::cuid>{"cuid"},
    Field<&IpcObject::cgid>{"cgid"},
    Field<&IpcObject::stime>{"stime"},
    Field<&IpcObject::rtime>{"rtime"},
    Field<&IpcObject::ctime>{"ctime"},
};
constexpr std::tuple kShmColumns{
    Field<&IpcObject::key>{"key"},
    Field<&IpcObject::id>{"shmid"},
    Mode{"perms"},
    Field<&IpcObject::size>{"size"},
    Field<&IpcObject::cpid>{"cpid"},
    Field<&IpcObject::lpid>{"lpid"},
    Field<&IpcObject::nattch>{"nattch"},
    Field<&IpcObject::uid>{"uid"},
    Field<&IpcObject::gid>{"gid"},
    Field<&IpcObject::cuid>{"cuid"},
    Field<&IpcObject::cgid>{"cgid"},
    Field<&IpcObject::atime>{"atime"},
    Field<&IpcObject::dtime>{"dtime"},
    Field<&IpcObject::ctime>{"ctime"},
    Field<&IpcObject::rss>{"rss"},
    Field<&IpcObject::swap>{"swap"},
};

template <typename... Columns>
ParseOutcome parse_objects(IpcKind kind, const std::tuple<Columns...>& columns,
                           std::string_view text, std::vector<IpcObject>& objects) {
  constexpr std::size_t N = sizeof...(Columns);
  std::array<std::string_view, N> wanted = std::apply(
      [](const auto&... column) { return std::array<std::string_view, N>{column.name...}; },
      columns);
  std::array<std::size_t, N> at{};
  Table table(text);
  ParseOutcome outcome;
  if (!table.locate(wanted, at)) return outcome;
  outcome.header_ok = true;
  // Every row sets every column of its kind, so one object serves all rows and the fields of the
  // other kinds stay as constructed: a fresh, zeroed object per row cost a fifth of the parse.
  IpcObject object;
  object.kind = kind;
  outcome.skipped_lines = table.for_each_row([&](const auto& field) {
    bool stored = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (Columns::store(field[at[I]], object) && ...);
    }
    (std::index_sequence_for<Columns...>{});
    if (stored) objects.push_back(object);
    return stored;
  });
  return outcome;
}

}  // namespace

ParseOutcome parse_object_table(IpcKind kind, std::string_view text,
                                std::vector<IpcObject>& objects) {
  switch (kind) {
    case IpcKind::kSemaphore:
      return parse_objects(kind, kSemColumns, text, objects);
    case IpcKind::kQueue:
      return parse_objects(kind, kMsgColumns, text, objects);
    case IpcKind::kSharedMemory:
      break;
  }
  return parse_objects(kind, kShmColumns, text, objects);
}

SharedMemoryTotals shared_memory_totals(const std::vector<IpcObject>& segments,
                                        std::uint64_t page_size) {
  SharedMemoryTotals totals;
  for (const IpcObject& segment : segments) add_segment(totals, segment.size, page_size);
  return totals;
}

SemaphoreTotals semaphore_totals(const std::vector<IpcObject>& arrays) {
  SemaphoreTotals totals;
  for (const IpcObject& array : arrays) add_array(totals, array.size);
  return totals;
}

void append_queues(const std::vector<IpcObject>& queues, std::vector<MessageQueue>& out) {
  for (const IpcObject& queue : queues) {
    out.push_back({.msqid = queue.id,
                   .key = queue.key,
                   .uid = queue.uid,
                   .messages = queue.qnum,
                   .bytes = queue.cbytes,
                   .changed_at = queue.ctime,
                   .capacity_bytes = std::nullopt});
  }
}

ParseOutcome parse_msg_table(std::string_view text, std::vector<MessageQueue>& queues) {
  enum { kKey, kMsqid, kCbytes, kQnum, kUid, kCtime };
  constexpr std::array<std::string_view, 6> kWanted{"key",  "msqid", "cbytes",
                                                    "qnum", "uid",   "ctime"};
  std::array<std::size_t, 6> at{};
  Table table(text);
  ParseOutcome outcome;
  if (!table.locate(kWanted, at)) return outcome;
  outcome.header_ok = true;
  outcome.skipped_lines = table.for_each_row([&](const auto& field) {
    MessageQueue queue;
    if (!parse_int(field[at[kKey]], queue.key) || !parse_int(field[at[kMsqid]], queue.msqid) ||
        !parse_int(field[at[kCbytes]], queue.bytes) ||
        !parse_int(field[at[kQnum]], queue.messages) || !parse_int(field[at[kUid]], queue.uid) ||
        !parse_int(field[at[kCtime]], queue.changed_at)) {
      return false;
    }
    queues.push_back(queue);
    return true;
  });
  return outcome;
}

ParseOutcome parse_shm_table(std::string_view text, std::uint64_t page_size,
                             SharedMemoryTotals& totals) {
  constexpr std::array<std::string_view, 1> kWanted{"size"};
  std::array<std::size_t, 1> at{};
  Table table(text);
  ParseOutcome outcome;
  if (!table.locate(kWanted, at)) return outcome;
  outcome.header_ok = true;
  outcome.skipped_lines = table.for_each_row([&](const auto& field) {
    std::uint64_t size = 0;
    if (!parse_int(field[at[0]], size)) return false;
    add_segment(totals, size, page_size);
    return true;
  });
  return outcome;
}

ParseOutcome parse_sem_table(std::string_view text, SemaphoreTotals& totals) {
  constexpr std::array<std::string_view, 1> kWanted{"nsems"};
  std::array<std::size_t, 1> at{};
  Table table(text);
  ParseOutcome outcome;
  if (!table.locate(kWanted, at)) return outcome;
  outcome.header_ok = true;
  outcome.skipped_lines = table.for_each_row([&](const auto& field) {
    std::uint64_t nsems = 0;
    if (!parse_int(field[at[0]], nsems)) return false;
    add_array(totals, nsems);
    return true;
  });
  return outcome;
}

std::optional<SemaphoreLimits> parse_sem_limits(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;
  Fields fields;
  split_fields(text.substr(0, text.size() - 1), fields);
  SemaphoreLimits limits;
  if (fields.count != 4 || !parse_int(fields.items[0], limits.semmsl) ||
      !parse_int(fields.items[1], limits.semmns) || !parse_int(fields.items[2], limits.semopm) ||
      !parse_int(fields.items[3], limits.semmni)) {
    return std::nullopt;
  }
  return limits;
}

std::optional<std::uint64_t> parse_single_number(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;
  Fields fields;
  split_fields(text.substr(0, text.size() - 1), fields);
  std::uint64_t value = 0;
  if (fields.count != 1 || !parse_int(fields.items[0], value)) return std::nullopt;
  return value;
}

}  // namespace ipctrail
