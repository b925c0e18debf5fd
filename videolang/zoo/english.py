"""Built-in English text: what the tiny tokenizers learn from when no corpus texts are given.

A few hundred words of plain, varied English in the register of video chapter
titles, descriptions and narration (cooking, repair, travel, science, music,
sport, software), so that a tokenizer trained on it splits ordinary English
into sensible pieces. Written for this project.
"""
from __future__ import annotations

FALLBACK_TEXT = """\
Introduction. Welcome back to the channel! In today's video we are going to make a simple tomato pasta from scratch.
First, bring a large pot of salted water to the boil. While the water heats up, chop two cloves of garlic and one small onion.
Warm a spoon of olive oil in a wide pan over medium heat, then add the onion and cook it slowly until soft and golden.
Add the garlic, a pinch of chili flakes and the crushed tomatoes. Let the sauce simmer for about fifteen minutes, stirring now and then.
Cook the spaghetti for nine minutes, keep a cup of the starchy water, drain the pasta and toss it with the sauce.
Finish with fresh basil, grated cheese and a little pepper. Serve it hot. Thanks for watching, and see you next week.

Chapter two: how to fix a flat bicycle tyre. You will need tyre levers, a pump, a patch kit and a little patience.
Remove the wheel from the frame, let out any remaining air, and work the levers under the edge of the tyre.
Pull out the inner tube and pump a little air into it. Listen for the hiss, or hold the tube under water and watch for bubbles.
Roughen the area around the hole with sandpaper, spread a thin layer of glue, wait one minute and press the patch firmly.
Check the inside of the tyre for glass or thorns before you put everything back together. Inflate to the pressure printed on the side.

Travel diary: three days in the mountains. We left the city early on Saturday morning and drove north for four hours.
The road climbed through forests of pine and birch, past quiet villages, lakes and old stone bridges.
On the first afternoon we hiked to a waterfall; the trail was steep and muddy after the rain, but the view was worth it.
The second day was cold and windy. We visited a small museum about the history of the valley, then warmed up with soup and bread.
On Monday the sky finally cleared, and from the summit we could see the glacier, the river and the whole range to the west.

Science explained: why is the sky blue? Sunlight looks white, but it is a mixture of every colour of the rainbow.
When light enters the atmosphere it meets molecules of nitrogen and oxygen that are much smaller than its wavelength.
Short wavelengths, such as blue and violet, are scattered far more strongly than long ones like red and orange.
Our eyes are more sensitive to blue than to violet, so the scattered light from every direction of the sky looks blue.
At sunset the light travels through much more air, most of the blue is scattered away, and the remaining light is red.

Music lesson: playing your first chords on the guitar. Tune the six strings, hold the neck gently and keep your thumb behind it.
We start with the chords of G major, C major and D major, because together they fit thousands of popular songs.
Press each string just behind the fret, strum slowly from the top, and listen: every note should ring clearly.
Practise changing between two chords for five minutes a day. Speed comes later; accuracy and rhythm come first.

Match highlights and analysis. The home team started fast, pressed high and scored after only six minutes.
The visitors answered with a long ball over the defence, and their striker levelled the game before half time.
In the second half both coaches made changes, the tempo dropped, and the midfield became crowded and tense.
A late corner, a header at the near post, and the stadium exploded. The final score was two goals to one.

Software tutorial: building a command line tool in Python. Create a new folder, a virtual environment and a project file.
Write a function that reads a text file, counts the words on each line and prints a short report with the totals.
Add a test for an empty file, a file with a single line, and a file that does not exist; the tool should explain each error.
Finally, package the project, publish the first version, and write a clear README so that other people can install it.

Review and conclusion. To sum up, the new camera is light, quick to focus and good in low light, but the battery is weak.
Questions, comments or ideas for the next episode? Leave them below. Timestamps: 0:00 Intro, 1:25 Setup, 4:10 Results, 9:45 Outro.
Numbers and dates: 1, 2, 3, 10, 25, 100, 2024, 12:30, 3.5 kg, 20%, $15, 7 days; names: Monday, March, London, Paris, Tokyo.
"""
