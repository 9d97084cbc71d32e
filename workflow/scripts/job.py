"""The command of the rules that compute results: `job.py <job> IDENTITY JOB --log LOG` runs
sparsedp.jobs.<job> with this checkout's src/ first on sys.path (see sparsedp/jobs.py)."""

import sys

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import main

sys.exit(main())
