from tagtrail.cli import main

raise SystemExit(main())
