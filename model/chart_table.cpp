#include "model/chart_table.h"

namespace ipctrail {

std::string_view chart_type_name(ChartType type) {
  switch (type) {
    case ChartType::kLine:
      return "line";
    case ChartType::kArea:
      return "area";
    case ChartType::kStacked:
      return "stacked";
  }
  return "line";
}

const ChartSpec* find_chart(std::string_view id_or_alias) {
  for (const ChartSpec* spec : kChartTable) {
    if (spec->id == id_or_alias) return spec;
  }
  for (const ChartSpec* spec : kChartTable) {
    if (!spec->netdata_id.empty() && spec->netdata_id == id_or_alias) return spec;
  }
  return nullptr;
}

std::vector<const ChartSpec*> charts_exporting(const MetricSpec& metric) {
  std::vector<const ChartSpec*> charts;
  for (const ChartSpec* spec : kChartTable) {
    for (const MetricSpec* exported : spec->metrics) {
      if (exported == &metric) charts.push_back(spec);
    }
  }
  return charts;
}

std::string_view canonical_chart_id(std::string_view name) {
  const ChartSpec* spec = find_chart(name);
  return spec ? spec->id : name;
}

}  // namespace ipctrail
