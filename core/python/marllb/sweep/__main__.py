import signal

from marllb.sweep.cli import main

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `sweep plan FILE | head` ends quietly
raise SystemExit(main())
