"""The Commissioner's measures: rollups kept with the rows they count, the metrics API, the 101
call statistics and the open-data file."""
