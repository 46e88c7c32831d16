from bertclf.cli import main

main()
