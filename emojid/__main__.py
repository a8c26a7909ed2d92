from emojid.cli import main

main()
