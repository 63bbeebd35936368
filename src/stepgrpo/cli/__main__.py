from stepgrpo.cli import main

main()
