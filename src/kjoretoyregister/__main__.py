from kjoretoyregister.cli import main

main()
