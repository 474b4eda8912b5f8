"""RQ job functions, queue names, retry policy and the cron schedule for the Code of Care companion."""
