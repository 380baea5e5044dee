"""The monitor's configuration: the file, its languages (conditions, cron), its errors."""
